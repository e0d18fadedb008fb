import { setCurrentDetails } from '@temporalio/workflow';
import type { CheckoutStep } from '../domain/checkout-lifecycle';
import { formatMoney } from '../domain/money';
import type { CartRecoveryView, CheckoutStatusView, RefundStatusView, RefundStep } from './messages';

/**
 * The "current details" the Temporal Web UI shows on a workflow's page (user metadata, beside
 * the static summary set at start in temporal/*.ts), so support reads where an order stands
 * without opening the history. setCurrentDetails keeps the text in the workflow's memory and
 * answers it from the SDK's metadata query: it adds no command, so calling it needs no patch
 * and replays of older histories are unaffected.
 */

const CHECKOUT_STEP_TEXT: Record<CheckoutStep, string> = {
  claiming: 'starting',
  pricing: 'pricing the cart',
  holding_stock: 'holding stock',
  authorizing_payment: 'waiting for the payment authorization',
  awaiting_payment: "waiting for the customer's 3-D Secure step (or the processor)",
  creating_order: 'creating the order',
  capturing_payment: 'order placed — waiting for capture',
  committing_stock: 'paid — committing stock',
  needs_attention: 'parked for support',
  clearing_cart: 'paid — clearing the cart',
  sending_confirmation: 'paid — sending the confirmation email',
  completed: 'completed: paid and confirmed',
  compensating: 'undoing the steps taken',
  releasing_authorization: 'failed — starting the void of an authorization a lost workflow task may have sent (unseen-void-<checkoutId>)',
  failed: 'failed',
};

const REFUND_STEP_TEXT: Record<RefundStep, string> = {
  claiming: 'claiming the order lines',
  releasing: 'releasing the reservation (the gateway did not refund)',
  refunding: 'waiting for the gateway refund',
  recording: 'recording the refund',
  restocking: 'putting the units back in stock',
  updating_order: "updating the order's status",
  emailing: 'emailing the customer',
  needs_attention: 'parked for support',
  succeeded: 'succeeded',
  failed: 'failed',
};

function lines(entries: [string, string | undefined][]): string {
  return entries
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `**${k}:** ${v}`)
    .join('\n');
}

export function checkoutDetails(view: CheckoutStatusView): string {
  const outcome = view.outcome;
  return lines([
    ['Step', CHECKOUT_STEP_TEXT[view.step]],
    ['Order', view.orderId],
    ['Total', outcome?.total ? formatMoney(outcome.total.amount, outcome.total.currency) : undefined],
    ['Failure', outcome?.status === 'failed' ? `${outcome.failure.code}: ${outcome.failure.message}` : undefined],
    ['Waiting for', view.waitingFor],
    ['Last error', view.lastError],
    ['Compensations run', view.compensations.length > 0 ? view.compensations.join(', ') : undefined],
    ['Cancel requested', view.cancelRequested ? 'yes (after the order was placed: recorded and ignored)' : undefined],
  ]);
}

export function refundDetails(view: RefundStatusView): string {
  return lines([
    ['Step', REFUND_STEP_TEXT[view.step]],
    ['Order', view.orderId],
    ['Waiting for', view.waitingFor],
    ['Last error', view.lastError],
  ]);
}

export function cartRecoveryDetails(view: CartRecoveryView): string {
  return lines([
    ['Reminders sent', String(view.sent)],
    ['Next reminder', view.nextAt !== undefined ? `#${(view.nextStep ?? 0) + 1} at ${view.nextAt}` : undefined],
    ['Stopped', view.stopped],
  ]);
}

/** Shows the checkout's progress in the Web UI: call after every step change. */
export function showCheckoutProgress(view: CheckoutStatusView): void {
  setCurrentDetails(checkoutDetails(view));
}

export function showRefundProgress(view: RefundStatusView): void {
  setCurrentDetails(refundDetails(view));
}

export function showCartRecoveryProgress(view: CartRecoveryView): void {
  setCurrentDetails(cartRecoveryDetails(view));
}

/** Any workflow parked by WaitForSupport (parking.ts): what support must decide and why. */
export function showParked(reason: string): void {
  setCurrentDetails(lines([['Parked for support', reason], ['Waiting for', 'a retry or cancel signal (Web UI: Signal, or the admin API)']]));
}
