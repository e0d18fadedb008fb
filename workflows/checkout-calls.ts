/**
 * How the checkout calls its activities: one proxy per kind of call, each with the timeouts
 * and retries that kind needs (a card decline is never retried, an outage is).
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';

/** Store calls: short, retried with backoff, business errors are non-retryable failures. */
const STORE_CALLS = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 10 },
} as const;
/** Gateway calls: a timeout may hide a success, so every call carries an idempotency key. */
const GATEWAY_CALLS = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 6 },
} as const;
/** Calls that must eventually succeed: retried without a limit, capped backoff. */
const UNTIL_DONE = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
} as const;
export const stores = proxyActivities<OrderlyActivities>(STORE_CALLS);
export const gateway = proxyActivities<OrderlyActivities>(GATEWAY_CALLS);
/**
 * The steps before the storefront's answer as local activities: they run inside the workflow
 * task, so the five of them cost one server round trip instead of five (docs/performance.md).
 * Same timeouts and retries; a worker that dies mid-step leaves the workflow task to time out
 * and another worker re-runs the step, which every step tolerates (idempotency keys, claims).
 */
export const localStores = proxyLocalActivities<OrderlyActivities>(STORE_CALLS);
export const localGateway = proxyLocalActivities<OrderlyActivities>(GATEWAY_CALLS);
/**
 * Re-reads of a payment waiting for 3-D Secure: an outage is waited out (retried without a
 * limit, capped backoff) — failing the checkout would cancel a payment the customer may
 * already have authenticated.
 */
export const paymentReads = proxyActivities<OrderlyActivities>(UNTIL_DONE);
/** Compensations must eventually happen: retried without limit. */
export const undo = proxyActivities<OrderlyActivities>(UNTIL_DONE);
/**
 * After the storefront's answer the order stands: its store steps retry without a limit
 * (capped backoff; the Web UI shows the attempts), so an outage never compensates it.
 */
export const afterAnswer = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
});
/** Emails the customer must get (confirmation, failure notice): retried until they go (the outbox sends once). */
export const mail = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
});
/** After the order is paid, side effects that must not undo it. */
export const followUp = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
});
/**
 * The steps after a capture as one activity (activities/checkout-finish.ts): retried without a
 * limit like every post-answer store step; its timeout leaves room for the confirmation email.
 * It heartbeats after each step, so a lost worker is noticed within the heartbeat timeout and
 * the retry skips the steps done.
 */
export const finishing = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
});
/**
 * A checkout refused before payment (a hold refused for stock): its compensation and the payment
 * store's fence as local activities, so the refused customer is answered in the workflow task
 * that refused them. A short budget: one that does not succeed at once (an outage) falls back to
 * the regular compensation activities (`undo`, retried until done) and the unseen-void child.
 */
export const refusal = proxyLocalActivities<OrderlyActivities>({
  startToCloseTimeout: '5s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s', maximumAttempts: 3 },
});
export const paymentFence = proxyLocalActivities<OrderlyActivities>({
  startToCloseTimeout: '3s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s', maximumAttempts: 2 },
});
/**
 * The capture and the steps after it as one activity (checkout-capture-and-finish,
 * activities/checkout-finish.ts captureAndFinishPaidCheckout): retried without a limit like
 * `finishing`, except that a capture failing for CAPTURE_ATTEMPTS attempts fails it for good (the
 * workflow parks, as the capture's own retry budget did). Its backoff starts at the gateway
 * calls' 1 s, so those attempts come at the old capture's pace.
 */
export const captureFinishing = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
