import type { RequestHandler, Response } from 'express';
import type { Config } from '../config';
import { verifyAccessToken } from '../usecases/customer-tokens';
import { AppError } from './errors';

/** What a valid customer access token puts on the request (res.locals.customer). */
export interface AuthenticatedCustomer {
  id: string;
}

/** A compact JWS: three base64url parts (the last may be empty, as `alg: none` has it). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Storefront routes: `Authorization: Bearer <access JWT>` names the customer
 * (res.locals.customer = { id }); without it the request is a guest's, as before accounts. A
 * token that fails verification is a 401 with its reason (token_expired, token_not_yet_valid,
 * token_invalid). A bearer credential that is not a JWT at all is not a customer's: it is left
 * to the support routes (api/auth.ts), so the request goes on as a guest's. Mounted only on the
 * storefront routes (api/app.ts), never on /admin or the support parts of /orders.
 */
export function customerAuth(config: Pick<Config, 'customers'>): RequestHandler {
  return (req, res, next) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.get('authorization') ?? '');
    const token = match?.[1];
    if (!token || !COMPACT_JWS.test(token)) return next();
    verifyAccessToken(config.customers, token).then(
      (verified) => {
        if (verified.kind === 'invalid') {
          res.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${verified.code}"`);
          return next(new AppError(verified.code, verified.message));
        }
        res.locals.customer = { id: verified.customerId } satisfies AuthenticatedCustomer;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

/**
 * customerAuth split in two around the rate limits: `identify` names the customer (so the limits
 * count per customer) and keeps a failed token's 401 for later; `refuse` answers it after the
 * limits, so a flood of forged tokens is counted per client address like any other request.
 */
export function customerAuthAroundLimits(config: Pick<Config, 'customers'>): { identify: RequestHandler; refuse: RequestHandler } {
  const auth = customerAuth(config);
  return {
    identify: (req, res, next) =>
      auth(req, res, (err?: unknown) => {
        if (err instanceof AppError) res.locals.customerTokenRefusal = err;
        return err && !(err instanceof AppError) ? next(err) : next();
      }),
    refuse: (_req, res, next) => next(res.locals.customerTokenRefusal as AppError | undefined),
  };
}

/** The customer of this request, if a valid access token named one. */
export function customerOf(res: Response): string | undefined {
  return (res.locals.customer as AuthenticatedCustomer | undefined)?.id;
}

/** /me routes: a customer's access token is required (401 unauthorized without one). */
export const requireCustomer: RequestHandler = (_req, res, next) => {
  if (!customerOf(res)) {
    res.set('WWW-Authenticate', 'Bearer');
    return next(new AppError('unauthorized', 'a customer access token is required (Authorization: Bearer)'));
  }
  next();
};
