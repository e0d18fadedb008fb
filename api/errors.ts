import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../logger';

/** The machine-readable error codes of the storefront contract (shared/API.md). */
export const ERROR_STATUS = {
  invalid_request: 400,
  idempotency_key_required: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  out_of_stock: 409,
  price_changed: 409,
  checkout_in_progress: 409,
  inventory_conflict: 409,
  payment_declined: 402,
  idempotency_key_reused: 422,
  cart_empty: 422,
  refund_exceeds_captured: 422,
  refund_exceeds_sold: 422,
  checkout_cancelled: 409,
  order_not_parked: 409,
  order_not_refundable: 409,
  checkout_failed: 502,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  request_timeout: 408,
  rate_limited: 429,
  service_unavailable: 503,
  internal_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    status?: number,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = status ?? ERROR_STATUS[code];
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && code in ERROR_STATUS;
}

export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', `no route for ${req.method} ${req.path}`));
};

/** The contract's error body (shared/API.md): `{ error: { code, message, details? } }`. */
export function errorBody(appError: AppError): { error: { code: ErrorCode; message: string; details?: unknown } } {
  const body: { error: { code: ErrorCode; message: string; details?: unknown } } = { error: { code: appError.code, message: appError.message } };
  if (appError.details !== undefined) body.error.details = appError.details;
  return body;
}

/**
 * The one place errors become HTTP answers. Malformed requests were turned into AppErrors
 * at the edge (request-guards.ts); anything else is our fault: a 500 with no internals.
 */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    let appError: AppError;
    if (err instanceof AppError) {
      appError = err;
    } else {
      logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
      appError = new AppError('internal_error', 'internal error');
    }
    if (res.headersSent) return;
    res.status(appError.status).json(errorBody(appError));
  };
}
