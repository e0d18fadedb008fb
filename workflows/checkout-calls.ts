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
const AFTER_ANSWER_CALLS = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
} as const;
export const afterAnswer = proxyActivities<OrderlyActivities>(AFTER_ANSWER_CALLS);
/** Emails the customer must get (confirmation, failure notice): retried until they go (the outbox sends once). */
const MAIL_CALLS = {
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
} as const;
export const mail = proxyActivities<OrderlyActivities>(MAIL_CALLS);
/** After the order is paid, side effects that must not undo it. */
const FOLLOW_UP_CALLS = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
} as const;
export const followUp = proxyActivities<OrderlyActivities>(FOLLOW_UP_CALLS);

/**
 * The steps after the capture as local activities (patch `checkout-local-steps-after-capture`):
 * commit stock, mark paid, the recommendations, clear the cart and the confirmation run in the
 * workflow task the capture's completion starts, instead of one activity task and one workflow
 * task each (docs/performance.md). Same timeouts and retries as their regular proxies; a retry
 * that would wait longer than `localRetryThreshold` waits on a timer instead, so a store outage
 * does not hold the workflow task open (queries and support's updates are answered meanwhile).
 * A worker that dies mid-way leaves the task to time out and another worker re-runs the steps
 * from the commit: each is idempotent (the hold is committed once, `paid` is a no-op when paid,
 * one outbox row per order, the cart cleared again).
 */
const AFTER_CAPTURE_LOCAL = { localRetryThreshold: '2s' } as const;
export const localAfterAnswer = proxyLocalActivities<OrderlyActivities>({ ...AFTER_ANSWER_CALLS, ...AFTER_CAPTURE_LOCAL });
export const localMail = proxyLocalActivities<OrderlyActivities>({ ...MAIL_CALLS, ...AFTER_CAPTURE_LOCAL });
export const localFollowUp = proxyLocalActivities<OrderlyActivities>({ ...FOLLOW_UP_CALLS, ...AFTER_CAPTURE_LOCAL });
