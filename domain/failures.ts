/**
 * Every failure code of the service, once (shared/API.md error codes). The value is the
 * HTTP status when the code answers a request; `null` marks a code that never does: a
 * failure an activity reports to its workflow, or one recorded on a refund for support.
 * A code not in this list is a type error wherever a code is written.
 */
export const FAILURE_CODES = {
  invalid_request: 400,
  idempotency_key_required: 400,
  /** POST /webhooks/stripe: a missing, forged, stale or mismatched Stripe-Signature. */
  webhook_signature_invalid: 400,
  unauthorized: 401,
  /** Customer accounts (README "Accounts and tokens"): a wrong email or password, alike. */
  invalid_credentials: 401,
  /** The customer access token (Authorization: Bearer) has expired: refresh it. */
  token_expired: 401,
  /** The access token's nbf is still ahead. */
  token_not_yet_valid: 401,
  /** The access token is malformed, forged, for another audience or issuer, or signed with an unknown key. */
  token_invalid: 401,
  /** The refresh token is unknown, expired or revoked (logout, password change). */
  refresh_token_invalid: 401,
  /** The refresh token was used before: its whole family (that login) is revoked now. */
  refresh_token_reused: 401,
  /** POST /customers: an account has this email (in any case). */
  email_taken: 409,
  /** POST /auth/login with cartId: another login of this account is claiming a cart right now: retry. */
  cart_claim_in_progress: 409,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  out_of_stock: 409,
  price_changed: 409,
  checkout_in_progress: 409,
  inventory_conflict: 409,
  payment_declined: 402,
  /** The customer did not finish the payment's 3-D Secure step in time. */
  payment_action_expired: 402,
  /** The gateway refused the payment method itself (unknown pm_…, invalid request). */
  payment_method_invalid: 422,
  idempotency_key_reused: 422,
  cart_empty: 422,
  refund_exceeds_captured: 422,
  refund_exceeds_sold: 422,
  checkout_cancelled: 409,
  order_not_parked: 409,
  /** Two support people acted on one parked order at once: the other's retry or cancel was taken. */
  support_action_conflict: 409,
  order_not_refundable: 409,
  checkout_failed: 502,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  request_timeout: 408,
  rate_limited: 429,
  /** An unsubscribe link past its expiry (UNSUBSCRIBE_TOKEN_TTL_DAYS): the page says to use a newer mail's link. */
  unsubscribe_link_expired: 410,
  service_unavailable: 503,
  /** The payment gateway's circuit breaker is open: try again after Retry-After (issue 19). */
  payment_unavailable: 503,
  internal_error: 500,
  /** POST /codec/decode: a payload encrypted with a key id this deployment does not know, or one that fails authentication. */
  payload_undecodable: 422,
  // activity → workflow failures (support's parking reasons), never an HTTP answer
  hold_mismatch: null,
  payment_missing: null,
  capture_refused: null,
  refund_rejected: null,
  // a refund's recorded outcome (GET /refunds shows it in the body, not as an error)
  refund_cancelled: null,
  refund_failed: null,
  /** An authorize whose checkout was already compensated without it (a lost workflow task's stale re-run): not sent. */
  authorization_abandoned: null,
} as const satisfies Record<string, number | null>;

export type FailureCode = keyof typeof FAILURE_CODES;

/** The codes a request can be answered with, and their HTTP status. */
export type ErrorCode = { [C in FailureCode]: (typeof FAILURE_CODES)[C] extends number ? C : never }[FailureCode];
export type ErrorStatus = { readonly [C in ErrorCode]: (typeof FAILURE_CODES)[C] };

export const ERROR_STATUS = Object.fromEntries(
  Object.entries(FAILURE_CODES).filter(([, status]) => status !== null),
) as ErrorStatus;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code);
}

export function isFailureCode(code: unknown): code is FailureCode {
  return typeof code === 'string' && Object.hasOwn(FAILURE_CODES, code);
}

/**
 * The business failures a checkout reports to the storefront as they are; any other
 * failure becomes `checkout_failed` (nothing internal leaks).
 */
export const CHECKOUT_BUSINESS_FAILURES = [
  'price_changed',
  'out_of_stock',
  'payment_declined',
  'payment_action_expired',
  'payment_method_invalid',
  'payment_unavailable',
  'cart_empty',
  'not_found',
  'invalid_request',
] as const satisfies readonly ErrorCode[];

export type CheckoutBusinessFailure = (typeof CHECKOUT_BUSINESS_FAILURES)[number];

export function isCheckoutBusinessFailure(code: unknown): code is CheckoutBusinessFailure {
  return typeof code === 'string' && (CHECKOUT_BUSINESS_FAILURES as readonly string[]).includes(code);
}
