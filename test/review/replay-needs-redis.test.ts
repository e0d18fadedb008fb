import { startRedisServer } from '../helpers/redis-server';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review r26d of the flash-sale change (usecases/place-checkout.ts reordered). POST /checkouts
 * now reads the cart from Redis BEFORE it looks the Idempotency-Key up, for every request,
 * replays included. Before (bd549c6) a retry of a key whose checkout is finished was answered
 * from PostgreSQL alone (findCheckoutByKey -> replay), so the storefront whose 201 was lost
 * (the order placed, the card charged) got its order back with the same key while Redis was
 * down. Now that retry answers 503 service_unavailable for as long as Redis is down: the
 * answer of a charged, placed order is withheld by an outage of a store it does not need.
 */
describe('replay of a placed checkout while Redis is down', () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let stack: Stack;
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startStack({ worker: true, env: { REDIS_URL: redis.url, CHECKOUT_WAIT_MS: '30000' } });
  });
  afterAll(async () => {
    await redis?.up().catch(() => undefined);
    await stack?.close();
    await redis?.stop();
  });

  it('the same Idempotency-Key replays the placed order (201, same orderId) without Redis, as before the change', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1200, onHand: 5 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const key = `r26d-replay-${Date.now()}`;
    const send = () =>
      stack.http('POST', '/checkouts', {
        headers: { 'Idempotency-Key': key },
        body: { cartId: cart.body.id, email: 'r26d@example.com', paymentToken: 'tok_visa' },
      });
    const first = await send();
    expect(first.status).toBe(201);
    // the order is paid and the cart emptied: nothing of this checkout needs Redis any more
    await eventually(async () => {
      const c = await stack.http('GET', `/carts/${cart.body.id}`);
      return c.status === 200 && c.body.lines.length === 0 ? c : undefined;
    }, 20_000, 'the cart cleared');

    await redis.down();
    const retry = await send();
    expect({ status: retry.status, code: retry.body?.error?.code, orderId: retry.body?.orderId }).toEqual({
      status: 201,
      code: undefined,
      orderId: first.body.orderId,
    });
  }, 90_000);
});
