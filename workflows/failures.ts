import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { CheckoutFailure } from '../domain/checkout';
import { isCheckoutBusinessFailure } from '../domain/failures';

/** Maps whatever stopped a workflow to the failure the storefront and support see. */
export function toCheckoutFailure(err: unknown): CheckoutFailure {
  if (isCancellation(err)) return { code: 'checkout_cancelled', message: 'the checkout was cancelled' };
  const app =
    err instanceof ApplicationFailure
      ? err
      : err instanceof ActivityFailure && err.cause instanceof ApplicationFailure
        ? err.cause
        : undefined;
  const code = app?.type;
  if (app && isCheckoutBusinessFailure(code)) {
    const details: unknown = app.details?.[0];
    return details === undefined ? { code, message: app.message } : { code, message: app.message, details };
  }
  return { code: 'checkout_failed', message: 'the checkout could not be completed; nothing was charged' };
}
