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
