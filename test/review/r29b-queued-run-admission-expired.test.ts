/**
 * Review r29b: a checkout admitted while its run waits for a worker longer than the hold's TTL
 * (workers down or backlogged past STOCK_HOLD_TTL_SECONDS: the storefront was answered 202
 * pending) fails `hold_mismatch` once a worker takes it, with plenty of stock.
 *
 * The admission hold is taken at the request (its expiry counts from then), not when the run
 * holds. When the workers come back, the expired-hold sweep (a Schedule on the same workers)
 * expires it; the run's holdStock (activities/inventory.ts, no `unclaimed`) then meets the
 * `expired` rows → HoldReleased → non-retryable `hold_mismatch`: the checkout fails (told `checkout_failed`: "could not be completed"), the
 * customer is told it failed for a reason that is not about stock. Before the admission hold,
 * the same run held afresh when it got a worker and placed the order. (Review r29a fixed the
 * same expiry for the request's replay — the admission replaces an expired hold — but not for
 * the run already queued with it.)
 *
 * Fault model: no worker while the request waits (202); the hold's deadline is moved into the
 * past (its 15 minutes passing) and the sweep's own function runs; then a worker starts.
 */
import { eq, sql } from 'drizzle-orm';
import { holds } from '../../db/schema/inventory';
import { getCheckout } from '../../db/stores/checkouts';
import { releaseExpiredHolds } from '../../db/stores/holds';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startRestartableWorker, type RestartableWorker } from '../helpers/worker';

jest.setTimeout(90_000);

let stack: Stack;
let worker: RestartableWorker | undefined;

beforeAll(async () => {
  stack = await startStack({ worker: false, env: { CHECKOUT_WAIT_MS: '1000' } });
});

afterAll(async () => {
  await worker?.close();
  await stack?.close();
});

test('a checkout whose run got a worker after its admission hold expired is placed (plenty of stock), not failed hold_mismatch', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 5 });
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `k-${cartId}` }, body: { cartId, email: 'queued@example.com', paymentToken: 'tok_visa' } });
  expect(res.status).toBe(202);
  const checkoutId = res.body.checkoutId as string;
  expect((await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId))).map((h) => h.status)).toEqual(['held']);

  // the workers stay away past the hold's TTL; when they come back the sweep runs
  await stack.dbs.inventory.update(holds).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(holds.holdId, checkoutId));
  await releaseExpiredHolds(stack.dbs.inventory, 1_000);

  worker = await startRestartableWorker(stack);
  let row = await getCheckout(stack.dbs.order, checkoutId);
  for (const until = Date.now() + 30_000; row?.status === 'pending' && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 200));
    row = await getCheckout(stack.dbs.order, checkoutId);
  }
  expect({ status: row?.status, failure: row?.failure ? `${row.failure.code}: ${row.failure.message}` : undefined }).toEqual({ status: 'placed', failure: undefined });
});
