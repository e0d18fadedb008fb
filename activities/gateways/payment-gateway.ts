import type { GatewayPayment } from '../../domain/payment';

export type { GatewayPayment };

/**
 * What the payment activities need from a processor. Amounts are integer minor units;
 * every call carries the caller's idempotency key (derived from workflow id + step), so a
 * retried call returns the first call's result instead of charging again.
 */
export interface AuthorizeRequest {
  idempotencyKey: string;
  amount: number;
  currency: string;
  /** A gateway token or payment-method id; never a card number. */
  paymentToken: string;
  /** Our reference (the checkout id), stored with the gateway's payment. */
  reference: string;
}
/**
 * Where an authorization stands: `authorized` (Stripe: requires_capture), or still waiting —
 * for the customer's 3-D Secure step (`requires_action`, with the client secret the
 * storefront hands to Stripe.js) or for the processor (`processing`).
 */
export type AuthorizationStatus = 'authorized' | 'requires_action' | 'processing';

export interface Authorization {
  ref: string;
  amount: number;
  currency: string;
  status: AuthorizationStatus;
  /** Only with `requires_action`: the intent's client secret (never the API key). */
  clientSecret?: string;
}

/** An authorization as the gateway sees it now: still waiting, authorized, or ended. */
export interface AuthorizationState {
  ref: string;
  status: AuthorizationStatus | 'declined' | 'canceled' | 'captured';
  amount: number;
  currency: string;
  clientSecret?: string;
  /** With `declined`: the gateway's code (card_declined, authentication_failed, …). */
  declineCode?: string;
}
export interface CaptureRequest {
  idempotencyKey: string;
  ref: string;
  amount: number;
  currency: string;
}
export interface VoidRequest {
  idempotencyKey: string;
  ref: string;
}
export interface RefundRequest {
  idempotencyKey: string;
  ref: string;
  amount: number;
  currency: string;
}


export interface PaymentGateway {
  readonly name: 'local' | 'stripe';
  authorize(req: AuthorizeRequest): Promise<Authorization>;
  capture(req: CaptureRequest): Promise<{ ref: string; amount: number }>;
  /** Idempotent: voiding a voided authorization succeeds. */
  void(req: VoidRequest): Promise<void>;
  refund(req: RefundRequest): Promise<{ refundRef: string; amount: number }>;
  /** Re-reads an authorization (after a webhook, a confirm, or a timeout); undefined when the gateway has none. */
  readAuthorization(ref: string): Promise<AuthorizationState | undefined>;
  /** The payment as the gateway sees it, or undefined when it has none under this ref. */
  lookupPayment(ref: string): Promise<GatewayPayment | undefined>;
  /**
   * The payment an authorize call made under this idempotency key (our `reference` is the
   * checkout id), if that call reached the gateway; undefined when it never did.
   */
  findAuthorization(req: { idempotencyKey: string; reference: string }): Promise<string | undefined>;
  /** The refund made under this idempotency key, if that call reached the gateway. */
  findRefund(req: { ref: string; idempotencyKey: string }): Promise<{ refundRef: string; amount: number } | undefined>;
}

/** The issuer said no: a business outcome, never retried. */
export class PaymentDeclinedError extends Error {
  constructor(
    readonly declineCode: string,
    message = `payment declined: ${declineCode}`,
  ) {
    super(message);
    this.name = 'PaymentDeclinedError';
  }
}

/** The gateway could not be reached or failed on its side: retried with backoff. */
export class GatewayUnavailableError extends Error {
  override name = 'GatewayUnavailableError';
}

/** The gateway refused the operation itself (capture of a voided payment, over-refund). */
export class PaymentRejectedError extends Error {
  constructor(readonly reason: string) {
    super(`payment operation rejected: ${reason}`);
    this.name = 'PaymentRejectedError';
  }
}
