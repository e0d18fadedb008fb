import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isRedisUnavailable, REDIS_RETRY_AFTER_SECONDS } from '../db/redis';
import { ERROR_STATUS, type ErrorCode } from '../domain/failures';
import type { Logger } from '../logger';

/** The machine-readable error codes and their HTTP status: derived from the one list (domain/failures.ts). */
export { ERROR_STATUS, isErrorCode, type ErrorCode } from '../domain/failures';

export class AppError extends Error {
  readonly status: number;
  /** Retry-After when it differs from details.retryAfterSeconds (a replayed answer: details as recorded, the header as of now). */
  retryAfterSeconds?: number;
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

export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', `no route for ${req.method} ${req.path}`));
};

/** The contract's error body (shared/API.md): `{ error: { code, message, details? } }`. */
export function errorBody(appError: AppError): { error: { code: ErrorCode; message: string; details?: unknown } } {
  const body: { error: { code: ErrorCode; message: string; details?: unknown } } = { error: { code: appError.code, message: appError.message } };
  if (appError.details !== undefined) body.error.details = appError.details;
  return body;
}

/** A refusal that says when to come back (an open circuit breaker) carries `details.retryAfterSeconds`. */
function retryAfterSeconds(details: unknown): number | undefined {
  const value = details && typeof details === 'object' ? (details as { retryAfterSeconds?: unknown }).retryAfterSeconds : undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
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
    } else if (isRedisUnavailable(err)) {
      // Redis down or failing over (carts, recommendations, …): not our bug, and over in seconds.
      logger.warn({ err, method: req.method, path: req.path }, 'redis unavailable');
      appError = new AppError('service_unavailable', 'a store is unavailable; try again shortly', { retryAfterSeconds: REDIS_RETRY_AFTER_SECONDS });
    } else {
      logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
      appError = new AppError('internal_error', 'internal error');
    }
    if (res.headersSent) return;
    const retryAfter = retryAfterSeconds({ retryAfterSeconds: appError.retryAfterSeconds }) ?? retryAfterSeconds(appError.details);
    if (retryAfter !== undefined) res.set('Retry-After', String(retryAfter));
    // The request log and the metrics (api/metrics.ts) count answers by this code.
    res.locals.errorCode = appError.code;
    res.status(appError.status).json(errorBody(appError));
  };
}
