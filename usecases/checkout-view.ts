import type { Checkout } from '../db/schema/order';
import { isClosingCheckout } from '../db/stores/checkouts';
import type { CheckoutAnswer, NextAction } from '../domain/checkout';
import type { Money } from '../domain/money';

/** A checkout as its caller sees it (shared/API.md): the body of POST and GET /checkouts. */
export interface CheckoutView {
  checkoutId: string;
  status: 'pending' | 'placed' | 'failed';
  orderId?: string;
  total?: Money;
  failure?: { code: string; message: string };
  step?: string;
  /** While the payment waits for the customer's 3-D Secure step: hand `clientSecret` to Stripe.js, then POST confirmUrl. */
  nextAction?: NextAction;
  confirmUrl?: string;
  statusUrl: string;
}

/** One shape, one key order, whether the answer comes from the workflow or the store. */
function checkoutView(v: Omit<CheckoutView, 'statusUrl'>): CheckoutView {
  const view: CheckoutView = { checkoutId: v.checkoutId, status: v.status, statusUrl: `/checkouts/${v.checkoutId}` };
  if (v.orderId) view.orderId = v.orderId;
  if (v.total) view.total = v.total;
  if (v.failure) view.failure = { code: v.failure.code, message: v.failure.message };
  if (v.nextAction) {
    view.nextAction = { type: v.nextAction.type, clientSecret: v.nextAction.clientSecret };
    view.confirmUrl = `/checkouts/${v.checkoutId}/confirm`;
  }
  return view;
}

const totalOf = (row: Checkout): Money | undefined =>
  row.totalAmount !== null && row.currency ? { amount: row.totalAmount, currency: row.currency } : undefined;

/** Where the checkout stands now (a placed order may since have failed). */
export function viewOfRow(row: Checkout): CheckoutView {
  // a run compensating it has not recorded what it tells yet (markCheckoutClosing): still pending
  if (isClosingCheckout(row)) return checkoutView({ checkoutId: row.checkoutId, status: 'pending', total: totalOf(row) });
  return checkoutView({
    checkoutId: row.checkoutId,
    status: row.status,
    orderId: row.orderId ?? undefined,
    total: totalOf(row),
    failure: row.failure ?? undefined,
  });
}

/**
 * What a replay of the same POST answers: the original answer. A checkout that placed an
 * order answered with it, and keeps answering so after a later failure or cancel.
 */
export function answeredViewOfRow(row: Checkout): CheckoutView {
  const total = totalOf(row);
  if (row.orderId && total) return checkoutView({ checkoutId: row.checkoutId, status: 'placed', orderId: row.orderId, total });
  return viewOfRow(row);
}

export function viewOfOutcome(outcome: CheckoutAnswer): CheckoutView {
  switch (outcome.status) {
    case 'placed':
      return checkoutView({ checkoutId: outcome.checkoutId, status: 'placed', orderId: outcome.orderId, total: outcome.total });
    case 'pending':
      return checkoutView({ checkoutId: outcome.checkoutId, status: 'pending', total: outcome.total, nextAction: outcome.nextAction });
    case 'failed':
      return checkoutView({ checkoutId: outcome.checkoutId, status: 'failed', total: outcome.total, failure: outcome.failure });
  }
}
