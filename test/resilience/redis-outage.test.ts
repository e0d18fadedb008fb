import { randomBytes } from 'node:crypto';
import { findOperation } from '../../db/stores/local-gateway-ledger';
import { eventually } from '../helpers/eventually';
import { activitiesOnOwnRedis, type OwnRedisActivities } from '../helpers/own-redis-activities';
import { startRedisServer } from '../helpers/redis-server';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Redis down (a Redis of the test's own, stopped by its PID): every route that needs it answers
 * `503 service_unavailable` with Retry-After (API.md's error body), quickly, instead of a 500;
 * routes that do not need it keep answering; once Redis is back, so are the carts.
 */
describe('Redis down: 503 service_unavailable with Retry-After, not 500', () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let stack: Stack;
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startStack({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.stop();
  });

  it('cart, checkout and recommendation routes answer 503 + Retry-After while it is down, and work again after', async () => {
    const sku = await createProduct(stack.dbs);
    const cart = await stack.http('POST', '/carts', { body: {} });
    expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    expect((await stack.http('GET', `/products/${sku}/recommendations`)).status).toBe(200);

    await redis.down();
    const calls: [method: string, path: string, body?: unknown, headers?: Record<string, string>][] = [
      ['GET', `/carts/${cart.body.id}`],
      ['PUT', `/carts/${cart.body.id}/lines/${sku}`, { quantity: 2 }],
      ['POST', '/carts', {}],
      ['DELETE', `/carts/${cart.body.id}/lines/${sku}`],
      ['GET', `/products/${sku}/recommendations?limit=3`],
      ['POST', '/checkouts', { cartId: cart.body.id, email: 'outage@example.com', paymentToken: 'tok_visa' }, { 'Idempotency-Key': 'redis-down' }],
    ];
    // twice over: the later calls meet a client that has been reconnecting for a while
    for (const [method, path, body, headers] of [...calls, ...calls]) {
      const started = Date.now();
      const res = await stack.http(method, path, { body, headers });
      expect({ call: `${method} ${path}`, status: res.status, code: res.body?.error?.code }).toEqual({ call: `${method} ${path}`, status: 503, code: 'service_unavailable' });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.body.error.details).toEqual({ retryAfterSeconds: Number(res.headers.get('retry-after')) });
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    // what does not need Redis still answers
    expect((await stack.http('GET', `/products/${sku}`)).status).toBe(200);
    expect((await stack.http('GET', '/health')).body.checks.redis).toBe('down');

    await redis.up();
    const back = await eventually(async () => {
      const res = await stack.http('GET', `/carts/${cart.body.id}`);
      return res.status === 200 ? res : undefined;
    }, 15_000, 'carts answering again');
    expect(back.body.lines).toEqual([expect.objectContaining({ sku, quantity: 1 })]);
    expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
  });
});

/**
 * The payment breaker keeps its state and each authorization's `dispatched` mark in Redis. With
 * Redis down its admission lets calls through (fails open), but an authorization whose
 * `dispatched` mark cannot be written is never sent (fails closed, a retryable error): a later
 * re-run refused by the breaker would otherwise mark it `refused` and its void would skip the
 * gateway. A void that cannot read the marks asks the gateway.
 */
describe('Redis down: no authorization without its dispatched mark; the void asks the gateway (real activities, local gateway, ledger)', () => {
  let own: OwnRedisActivities;
  beforeAll(async () => {
    own = await activitiesOnOwnRedis();
  });
  afterAll(async () => {
    await own?.close();
  });

  it('does not call the gateway without the mark (retryable), and a void that cannot read the marks asks the gateway', async () => {
    const { redis, dbs, deps, activities } = own;
    const checkoutId = `chk_${randomBytes(8).toString('hex')}`;
    const authorization = { checkoutId, idempotencyKey: `wf/${checkoutId}/authorize`, amount: { amount: 700, currency: 'USD' }, paymentToken: 'tok_visa' };
    await redis.down();
    const started = Date.now();
    const refused = await activities.authorizePayment(authorization).catch((err: unknown) => err);
    expect(refused).toMatchObject({ name: 'DispatchMarkUnavailableError', idempotencyKey: authorization.idempotencyKey });
    expect((refused as { type?: unknown }).type).toBeUndefined(); // not a business failure: the step is retried
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await findOperation(dbs.payment, authorization.idempotencyKey)).toBeUndefined();

    // an authorization dispatched while Redis was up (mark written), then Redis goes down: its void
    // cannot read the mark, asks the gateway, and releases the money
    await redis.up();
    expect(await eventually(() => deps.breakers!.paymentGateway.snapshot().then(() => true), 10_000, 'redis back')).toBe(true);
    const authorized = await activities.authorizePayment(authorization);
    expect(authorized.paymentRef).toEqual(expect.any(String));
    expect(await deps.breakers!.paymentGateway.callFate(authorization.idempotencyKey)).toBe('dispatched');
    await redis.down();
    expect(await activities.voidPayment({ checkoutId, idempotencyKey: `wf/${checkoutId}/void`, authorization })).toMatchObject({ action: 'voided', amount: 700 });
    expect(await findOperation(dbs.payment, `wf/${checkoutId}/void`)).toMatchObject({ operation: 'void' });
  });
});
