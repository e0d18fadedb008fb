/**
 * Review r27b: concurrent duplicates of one POST /checkouts (same Idempotency-Key: a double
 * click, a storefront retry after its own HTTP timeout) share one checkout id, hence one cart
 * lock. When one of them gets a definite "not executed" error from Temporal (here
 * RESOURCE_EXHAUSTED once the SDK's retries are spent: a namespace rate limit under load) and
 * its describe runs before the other one's update-with-start is persisted, it reads "no run",
 * answers 503 and unlocks the cart — `unlock(cartId, checkoutId)` matches the duplicate's lock,
 * which is the same checkout's. The duplicate's run then goes on with the cart unlocked: a change
 * the customer makes meanwhile is frozen into the order and charged.
 * Fixed: the 503 fences the checkout row (failed, unless a run claimed it), so the duplicate's
 * run finds it failed and stops, and the duplicate is answered the same 503.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { eq } from 'drizzle-orm';
import { getCheckout } from '../../db/stores/checkouts';
import { payments } from '../../db/schema/payment';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(90_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '5000' } });
});

afterAll(async () => {
  await stack?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rateLimited(): Error {
  return Object.assign(new Error('8 RESOURCE_EXHAUSTED: namespace rate limit exceeded'), {
    code: status.RESOURCE_EXHAUSTED,
    details: 'namespace rate limit exceeded',
    metadata: new Metadata(),
  });
}

test('a duplicate refused by Temporal unlocks the cart its twin is checking out: a change made meanwhile is ordered and charged', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 10 });
  const extra = await createProduct(stack.dbs, { priceAmount: 5000, onHand: 10 });
  const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  const service = stack.temporal.connection.workflowService;
  const original = service.executeMultiOperation.bind(service);
  let calls = 0;
  let secondArrived!: () => void;
  const second = new Promise<void>((r) => (secondArrived = r));
  let releaseSecond!: () => void;
  const secondReleased = new Promise<void>((r) => (releaseSecond = r));
  service.executeMultiOperation = (async (req: Parameters<typeof original>[0]) => {
    calls += 1;
    if (calls === 1) {
      // the first duplicate: refused (not executed) once both duplicates hold the cart's lock
      await second;
      throw rateLimited();
    }
    if (calls === 2) {
      // the second duplicate: its call is slow to be persisted (a busy history shard)
      secondArrived();
      await secondReleased;
    }
    return original(req);
  }) as typeof service.executeMultiOperation;

  const body = { cartId, email: 'twins@example.com', paymentToken: 'tok_visa' };
  const key = `k-${cartId}`;
  const first = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  await sleep(50);
  const twin = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });

  const refused = await first;
  expect(refused.status).toBe(503);
  const checkoutId = refused.body.error.details.checkoutId as string;

  // the twin's checkout is under way; the customer changes the cart (another tab)
  const change = await stack.http('PUT', `/carts/${cartId}/lines/${extra}`, { body: { quantity: 1 } });
  releaseSecond();
  const answered = await twin;
  await sleep(500);
  const row = await getCheckout(stack.dbs.order, checkoutId);
  const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
  // Once the first duplicate was told 503 and the cart given back, no run of this checkout may
  // go on: the twin's run finds the checkout fenced, and the twin is answered as the first was.
  // Never an order (nor a charge) for a cart the customer changed after being told 503.
  expect({ twin: answered.status, change: change.status, status: row?.status, payment }).toEqual({ twin: 503, change: 200, status: 'failed', payment: undefined });
  expect(answered.body.error.details).toMatchObject({ checkoutId, notStarted: true });

  // the same request again places it, with the cart as it is now
  const again = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  expect(again.status).toBe(201);
  expect(again.body.total).toEqual({ amount: 6000, currency: 'USD' });
});
