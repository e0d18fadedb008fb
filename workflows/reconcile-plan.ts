/**
 * What reconciliation does about one checkout or refund, decided from its facts alone: a
 * pure function (table-tested in test/workflows/reconcile.test.ts), so the workflow only
 * gathers facts and carries the plan out. Repair what is safe, park what needs a human,
 * never guess.
 */
import type { LedgerView, PaymentFacts, ReconcileCheckout } from '../activities/reconcile';
import type { GatewayPayment } from '../activities/gateways/payment-gateway';

export interface CheckoutFacts {
  checkout: ReconcileCheckout;
  running: boolean;
  payment: PaymentFacts;
  holds: string[];
}

export interface CheckoutPlan {
  why: string;
  returnMoney?: 'void' | 'refund';
  correctLedger: boolean;
  releaseHold: boolean;
  failCheckout: boolean;
  /** transition: order → needs_attention; note: a line in its history (its status cannot move); already: it waits for support. */
  park?: { reason: string; how: 'transition' | 'note' | 'already' };
}

/** The ledger status the gateway's amounts mean (as db/stores/payments.ts syncPaymentFromGateway sets it). */
function statusOf(g: GatewayPayment): string {
  if (g.captured === 0) return g.voided || g.authorized === 0 ? 'voided' : 'authorized';
  if (g.refunded >= g.captured) return 'refunded';
  return g.refunded > 0 ? 'partially_refunded' : 'captured';
}

/** Our row differs from the gateway. A refund in flight (pending amount) owns the difference: not ours to fix. */
export function ledgerDiffers(ledger: LedgerView | null, g: GatewayPayment): boolean {
  if (!ledger) return true;
  if (ledger.refundPending > 0) return false;
  return ledger.authorized !== g.authorized || ledger.captured !== g.captured || ledger.refunded !== g.refunded || ledger.status !== statusOf(g);
}

/** Money the gateway holds for a checkout that has no order to pay for. */
function outstanding(g: GatewayPayment | null): 'void' | 'refund' | undefined {
  if (!g) return undefined;
  if (g.captured - g.refunded > 0) return 'refund';
  if (g.captured === 0 && g.authorized > 0 && !g.voided) return 'void';
  return undefined;
}

const PAID = ['paid', 'partially_refunded', 'refunded', 'fulfilled'];

/** What to do about one checkout: repair what is safe, park what needs a human, never guess. */
export function decideCheckout(f: CheckoutFacts): CheckoutPlan {
  const nothing = { correctLedger: false, releaseHold: false, failCheckout: false };
  if (f.running) return { ...nothing, why: 'its workflow is still running' };
  const { checkout } = f;
  const g = f.payment.gateway;
  const ledgerOff = g !== null && ledgerDiffers(f.payment.ledger, g);
  const order = checkout.orderStatus;
  const park = (reason: string): CheckoutPlan['park'] => ({
    reason,
    how: order === 'needs_attention' ? 'already' : checkout.orderCanPark ? 'transition' : 'note',
  });
  const unknownToGateway = !g && f.payment.ledger ? park('our ledger has a payment the gateway does not know') : undefined;

  if (order === null || order === 'failed' || order === 'cancelled') {
    const returnMoney = outstanding(g);
    return {
      why: order ? `the order is ${order}` : 'the checkout has no order',
      returnMoney,
      correctLedger: !returnMoney && ledgerOff,
      // (a reopenable fence's hold waits for its request, or the sweep at its expiry)
      releaseHold: f.holds.includes('held') && checkout.reopenable !== true,
      failCheckout: checkout.status === 'pending',
      park: unknownToGateway,
    };
  }
  if (PAID.includes(order)) {
    const noCapture = !g || g.captured === 0;
    return { ...nothing, why: `the order is ${order}`, correctLedger: ledgerOff, park: noCapture ? park(`the order is ${order} but the gateway shows no capture`) : undefined };
  }
  if (order === 'placed') {
    return {
      ...nothing,
      why: 'the order is placed and no workflow runs it',
      correctLedger: ledgerOff,
      park: park('the checkout workflow ended after the order was placed (terminated?): capture, stock commit or confirmation may be missing'),
    };
  }
  if (order === 'needs_attention') return { ...nothing, why: 'the order waits for support', correctLedger: ledgerOff, park: park('waits for support') };
  return { ...nothing, why: `unknown order status ${order}` };
}

export type RefundPlan = 'leave' | 'complete' | 'fail';

/** A pending refund whose workflow ended: the gateway says whether it happened. */
export function decideRefund(f: { running: boolean; refundRef: string | null }): RefundPlan {
  if (f.running) return 'leave';
  return f.refundRef ? 'complete' : 'fail';
}
