import { Router } from 'express';
import type { CartStore } from '../../db/stores/cart';
import { LoginThrottle } from '../../db/stores/login-throttle';
import { RefreshTokens } from '../../db/stores/refresh-tokens';
import { changePassword, logIn, logOut, refreshTokens, registerCustomer, type CustomerDeps } from '../../usecases/customer-accounts';
import { listCustomerCarts, listCustomerOrders } from '../../usecases/customer-views';
import { decoyHash } from '../../usecases/passwords';
import type { Rejected } from '../../usecases/result';
import { clientAddress } from '../client-address';
import { customerOf, requireCustomer } from '../customer-auth';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { changePasswordBodySchema, loginBodySchema, meOrdersQuerySchema, refreshBodySchema, registerBodySchema } from '../schemas/customers';
import { parse } from '../validate';
import { presentOrder } from './orders';

/** A use case's result, or its refusal thrown as the HTTP error. */
function answer<T>(result: T | Rejected): T {
  if ((result as { kind?: unknown }).kind === 'rejected') {
    const r = result as Rejected;
    throw new AppError(r.code, r.message, r.details);
  }
  return result as T;
}

/** The customer context's dependencies: its Redis stores next to the app's. */
export function customerDeps(deps: AppDeps, carts: CartStore): CustomerDeps {
  // the decoy hash is made before the first login with an unknown email, so that one costs no more
  void decoyHash().catch((err: unknown) => deps.logger.warn({ err: String(err) }, 'decoy password hash failed'));
  return {
    ...deps,
    carts,
    refreshTokens: new RefreshTokens(deps.redis, deps.config.customers.refreshTokenTtlSeconds),
    loginThrottle: new LoginThrottle(deps.redis, deps.config.customers.login, deps.config.temporal.taskQueue),
  };
}

const clientIp = clientAddress;

/** POST /customers */
export function customersRouter(deps: CustomerDeps): Router {
  const router = Router();
  router.post('/', async (req, res) => {
    const { customer } = answer(await registerCustomer(deps, { ...parse(registerBodySchema, req.body, 'registration'), ip: clientIp(req) }));
    res.status(201).location(`/me`).json(customer);
  });
  return router;
}

/** /auth: login, refresh, logout (no access token needed: the refresh token is the credential). */
export function authRouter(deps: CustomerDeps): Router {
  const router = Router();
  router.post('/login', async (req, res) => {
    const body = parse(loginBodySchema, req.body, 'login');
    const result = answer(await logIn(deps, { ...body, ip: clientIp(req) }));
    res.set('Cache-Control', 'no-store').json({ ...result.tokens, customerId: result.customerId, ...(result.cartId ? { cartId: result.cartId } : {}) });
  });
  router.post('/refresh', async (req, res) => {
    const { refreshToken } = parse(refreshBodySchema, req.body, 'refresh');
    const { tokens } = answer(await refreshTokens(deps, refreshToken));
    res.set('Cache-Control', 'no-store').json(tokens);
  });
  router.post('/logout', async (req, res) => {
    const { refreshToken } = parse(refreshBodySchema, req.body, 'logout');
    await logOut(deps, refreshToken);
    res.status(204).end();
  });
  return router;
}

/** /me: the logged-in customer's own things (an access token required). */
export function meRouter(deps: CustomerDeps): Router {
  const router = Router();
  router.use(requireCustomer);
  router.post('/password', async (req, res) => {
    answer(await changePassword(deps, customerOf(res) as string, parse(changePasswordBodySchema, req.body, 'password change')));
    res.status(204).end();
  });
  router.get('/orders', async (req, res) => {
    const query = parse(meOrdersQuerySchema, req.query, 'query');
    const page = answer(await listCustomerOrders(deps, customerOf(res) as string, query));
    res.json({ items: page.orders.map(({ order, payment }) => presentOrder(order, payment)), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
  });
  router.get('/carts', async (_req, res) => {
    res.json({ items: (await listCustomerCarts(deps, customerOf(res) as string)).carts });
  });
  return router;
}
