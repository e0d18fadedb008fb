import express from 'express';
import { CartStore } from '../db/stores/cart';
import { CircuitBreakers } from '../db/stores/circuit-breakers';
import { SearchIndex } from '../db/search-engine/search-index';
import { requireAdmin } from './auth';
import { customerAuth } from './customer-auth';
import type { AppDeps } from './deps';
import { errorMiddleware, notFoundRoute } from './errors';
import { createApiMetrics, routeMatcher } from './metrics';
import { openApiDocument } from './openapi';
import { methodNotAllowed } from './openapi/method-not-allowed';
import { requestContext } from './request-context';
import { checkRequestTarget, jsonBody, requireJsonBodies } from './request-guards';
import { adminRouter } from './routes/admin';
import { adminProductsRouter } from './routes/admin-products';
import { cartsRouter } from './routes/carts';
import { checkoutsRouter } from './routes/checkouts';
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
  const carts = new CartStore(deps.redis, deps.dbs.cart, deps.config.cart);
  const admin = requireAdmin(deps.config);

  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // req.ip: the client's address as the trusted proxies forward it (TRUST_PROXY), else the socket's
  app.set('trust proxy', deps.config.trustProxy);
  // Signed gateway events are verified over their raw bytes: mounted before any JSON parser.
  app.use('/webhooks', checkRequestTarget, webhooksRouter(deps));
  // Metrics, request id, the request's span (tracing on) and its log line see every request, also the refused ones.
  app.use((deps.metrics ?? createApiMetrics(deps.dbs)).middleware, ...requestContext(deps.logger, routeMatcher()));
  // Malformed bytes in the target or the body are a 4xx before any route runs (request-guards.ts).
  app.use(checkRequestTarget, requireJsonBodies, jsonBody());

  app.use('/health', healthRouter(deps));
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  app.use('/products', productsRouter(deps));
  // Customer accounts (api/routes/customers.ts). A customer's access token (api/customer-auth.ts)
  // is read on the storefront routes only: never on /admin, POST /orders/:id/refunds or GET /orders.
  const customers = customerDeps(deps, carts);
  const storefrontCustomer = customerAuth(deps.config);
  app.use('/customers', customersRouter(customers));
  app.use('/auth', authRouter(customers));
  app.use('/me', storefrontCustomer, meRouter(customers));
  app.use(['/carts', '/checkouts'], storefrontCustomer);
  app.get('/orders/:orderId', storefrontCustomer);
  app.get('/orders/:orderId/refunds', storefrontCustomer);
  app.use('/carts', cartsRouter(deps, carts));
  app.use('/checkouts', checkoutsRouter({ ...deps, carts }));
  app.use('/orders/:orderId/refunds', refundsRouter(deps));
  app.use('/orders', ordersRouter(deps, admin));
  app.use('/admin', admin, adminRouter(deps), adminProductsRouter(deps));
  app.use('/unsubscribe', unsubscribeRouter(deps));
  const page = localGatewayPage(deps.config, deps.dbs.payment);
  if (page) app.use('/local-gateway', page);

  app.use(methodNotAllowed(openApiDocument.paths as Record<string, Record<string, unknown>>));
  app.use(notFoundRoute);
  app.use(errorMiddleware(deps.logger));
  return app;
}
