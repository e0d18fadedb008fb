import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { CheckoutFailure } from './messages';

/** Failure types the storefront understands (shared/API.md error codes). */
const BUSINESS_FAILURES = new Set([
  'price_changed',
  'out_of_stock',
  'payment_declined',
  'cart_empty',
  'not_found',
  'invalid_request',
]);

/** Maps whatever stopped a workflow to the failure the storefront and support see. */
export function toCheckoutFailure(err: unknown): CheckoutFailure {
  if (isCancellation(err)) return { code: 'checkout_cancelled', message: 'the checkout was cancelled' };
  const app =
    err instanceof ApplicationFailure
      ? err
      : err instanceof ActivityFailure && err.cause instanceof ApplicationFailure
        ? err.cause
        : undefined;
  if (app?.type && BUSINESS_FAILURES.has(app.type)) {
    const details: unknown = app.details?.[0];
    return details === undefined ? { code: app.type, message: app.message } : { code: app.type, message: app.message, details };
  }
  return { code: 'checkout_failed', message: 'the checkout could not be completed; nothing was charged' };
}
