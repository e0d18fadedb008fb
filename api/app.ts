import express from 'express';
import { CartStore } from '../db/stores/cart';
import { CircuitBreakers } from '../db/stores/circuit-breakers';
import { SearchIndex } from '../db/search-engine/search-index';
import { installSupportAuth, requireRole } from './auth';
import { customerAuthAroundLimits } from './customer-auth';
import type { AppDeps } from './deps';
import { errorMiddleware, notFoundRoute } from './errors';
import { createApiMetrics, routeMatcher } from './metrics';
import { openApiDocument } from './openapi';
import { createRateLimits } from './rate-limit';
import { methodNotAllowed } from './openapi/method-not-allowed';
import { requestContext } from './request-context';
import { checkRequestTarget, jsonBody, requireJsonBodies } from './request-guards';
import { adminRouter } from './routes/admin';
import { adminProductsRouter } from './routes/admin-products';
import { adminSupportTokensRouter } from './routes/admin-support-tokens';
import { cartsRouter } from './routes/carts';
import { checkoutsRouter } from './routes/checkouts';
import { codecRouter } from './routes/codec';
import { authRouter, customerDeps, customersRouter, meRouter } from './routes/customers';
import { healthRouter } from './routes/health';
import { localGatewayPage } from './local-gateway-page';
import { ordersRouter } from './routes/orders';
import { productsRouter } from './routes/products';
import { refundsRouter } from './routes/refunds';
import { unsubscribeRouter } from './routes/unsubscribe';
import { webhooksRouter } from './routes/webhooks';

/** Builds the Express app without listening, so tests start it on port 0. */
export function createApp(given: AppDeps): express.Express {
  const deps: AppDeps = {
    ...given,
    search: given.search ?? new SearchIndex(given.config),
    breakers: given.breakers ?? new CircuitBreakers(given.redis, given.config.circuit),
  };
  const app = express();
  // support identities: per-person tokens and ADMIN_API_TOKEN, roles per route (api/auth.ts)
  installSupportAuth(app, deps);
  const carts = new CartStore(deps.redis, deps.dbs.cart, deps.config.cart);

  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Who may name the client in X-Forwarded-For (config TRUST_PROXY; default nobody): the rate limits key on req.ip.
  app.set('trust proxy', deps.config.trustProxy);
  // Signed gateway events are verified over their raw bytes: mounted before any JSON parser.
  app.use('/webhooks', checkRequestTarget, webhooksRouter(deps));
  // Metrics, request id, the request's span (tracing on) and its log line see every request, also the refused ones.
  app.use((deps.metrics ?? createApiMetrics(deps.dbs)).middleware, ...requestContext(deps.logger, routeMatcher()));
  // Malformed bytes in the request target are a 400 before anything reads a path parameter (request-guards.ts).
  app.use(checkRequestTarget);
  // Temporal's codec server for the Web UI and the CLI (support credential; CORS; bodies up to a history page): its own parsers.
  app.use('/codec', codecRouter(deps.config, requireRole('support')));
  // A customer's access token (api/customer-auth.ts) is read on the storefront routes only, never on
  // /admin, POST /orders/:id/refunds or GET /orders: named before the rate limits (they count per
  // customer), a forged one refused after them (so it is counted too).
  const customerToken = customerAuthAroundLimits(deps.config);
  const storefront = ['/carts', '/checkouts', '/me'];
  app.use(storefront, customerToken.identify);
  app.get('/orders/:orderId', customerToken.identify);
  app.get('/orders/:orderId/refunds', customerToken.identify);
  // Rate limits (api/rate-limit.ts), before any body is read; not on /health (the probes).
  const limits = createRateLimits(deps.config.rateLimits, deps.redis, deps.logger);
  app.use(limits.general);
  app.use(storefront, customerToken.refuse);
  app.get('/orders/:orderId', customerToken.refuse);
  app.get('/orders/:orderId/refunds', customerToken.refuse);
  // RFC 8058 one-click unsubscribe is a form POST: mounted before the JSON-only body guard (it reads no body).
  app.use('/unsubscribe', unsubscribeRouter(deps));
  // A non-JSON or malformed body is a 4xx before any route runs (request-guards.ts).
  app.use(requireJsonBodies, jsonBody());

  app.use('/health', healthRouter(deps));
  app.post('/carts', limits.cartWithEmail);
  app.post('/checkouts', limits.checkout);
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  app.use('/products', productsRouter(deps));
  // Customer accounts (api/routes/customers.ts).
  const customers = customerDeps(deps, carts);
  app.use('/customers', customersRouter(customers));
  app.use('/auth', authRouter(customers));
  app.use('/me', meRouter(customers));
  app.use('/carts', cartsRouter(deps, carts));
  app.use('/checkouts', checkoutsRouter({ ...deps, carts }));
  app.use('/orders/:orderId/refunds', refundsRouter(deps));
  app.use('/orders', ordersRouter(deps, requireRole('support')));
  // any live support credential gets past /admin (401/403 before a 404); each route then needs its role
  app.use('/admin', requireRole('support', 'operations', 'admin'), adminRouter(deps), adminProductsRouter(deps), adminSupportTokensRouter(deps));
  const page = localGatewayPage(deps.config, deps.dbs.payment);
  if (page) app.use('/local-gateway', page);

  app.use(methodNotAllowed(openApiDocument.paths as Record<string, Record<string, unknown>>));
  app.use(notFoundRoute);
  app.use(errorMiddleware(deps.logger));
  return app;
}
