import type { Money } from './money';

/**
 * Why a checkout failed, as the storefront, the customer's email and support see it. `code`
 * is one of domain/failures.ts FAILURE_CODES; it stays a string here because failures are
 * also read back from stored rows and recorded histories.
 */
export interface CheckoutFailure {
  code: string;
  message: string;
  details?: unknown;
}

export type CheckoutOutcome =
  | { status: 'placed'; checkoutId: string; orderId: string; total: Money }
  | { status: 'failed'; checkoutId: string; total?: Money; failure: CheckoutFailure };

/**
 * What the storefront must do before the payment can be authorized (3-D Secure): hand the
 * client secret to Stripe.js (`handleNextAction`). Never the secret API key.
 */
export interface NextAction {
  type: 'use_stripe_sdk';
  clientSecret: string;
}

/**
 * The answer a checkout gives its caller: its outcome, or — while the payment waits for the
 * customer (3-D Secure) or the processor — pending, with what the storefront must do next.
 */
export type CheckoutAnswer =
  | CheckoutOutcome
  | { status: 'pending'; checkoutId: string; total: Money; nextAction?: NextAction };

/**
 * The last detail of a refusal of the capture-and-finish activity that came after its capture
 * succeeded (a stock commit refused, an order not payable): the checkout parks its finishing
 * step, not the capture (activities/checkout-finish.ts captureThenFinish).
 */
export const CAPTURED_BEFORE_REFUSAL = { capturedBeforeRefusal: true } as const;

/** Whether a failure's details say the capture had succeeded before it (see CAPTURED_BEFORE_REFUSAL). */
export function capturedBeforeRefusal(details: readonly unknown[] | undefined | null): boolean {
  return (details ?? []).some((d) => typeof d === 'object' && d !== null && (d as { capturedBeforeRefusal?: unknown }).capturedBeforeRefusal === true);
}
