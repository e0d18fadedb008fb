/**
 * Review r29a: the admission hold's return (usecases/admission-hold.ts returnAdmissionHold,
 * called by `unsettled` after its fence) is not tied to the fence it follows. It runs
 * `releaseHold(checkoutId, 'returned')`, which closes whatever is `held` under the checkout's
 * id — also a hold the same checkout, reopened meanwhile by the same request sent again, has
 * taken (a repeat of the same hold id) and whose run is using.
 *
 * Interleaving: request A (first attempt) holds the last unit, its update-with-start ends
 * without a definite answer (DEADLINE_EXCEEDED) → `unsettled` fences the row (503) and stalls
 * (GC pause, event-loop stall, a slow connection from the pool) before its return. The
 * storefront's retry A' (same Idempotency-Key: what the 503 asks for; or a client-side
 * timeout retry) reopens the row, its admission hold repeats A's (still `held`), its run
 * claims the row, holds (repeat) and places the order: 201. Then A's return lands: the hold
 * the run placed its order on goes to `returned`, the unit is free again, and A's unlock gives
 * the cart back while the run is still capturing. Customer B buys the same (last) unit: 201.
 * Two orders placed for one unit; A's commit meets `returned`, finds the unit gone, and its
 * order is parked after the capture (customer charged for stock it does not get).
 *
 * Fault model: A's releaseHold(…, 'returned') is held back until the test lets it go (a stall
 * of the API process between its fence and its return); A's first update-with-start answers
 * DEADLINE_EXCEEDED (test/helpers/late-start.ts, never landing); the capture step of each run
 * pauses 6 s before its first attempt (FAULT_PAUSE_BEFORE), standing for a slow gateway.
 */
import { eq } from 'drizzle-orm';
import { getCheckout } from '../../db/stores/checkouts';
import { holds, stock } from '../../db/schema/inventory';
import { checkouts } from '../../db/schema/order';
import { lateFirstStart } from '../helpers/late-start';
import { settledOrdersOf } from '../helpers/interleavings';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(120_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    worker: true,
    env: { CHECKOUT_WAIT_MS: '4000', FAULT_PAUSE_BEFORE: 'captureAndFinishPaidCheckout', FAULT_PAUSE_MS: '6000' },
  });
});

afterAll(async () => {
  await stack?.close();
});

/** Holds back the API's return of an admission hold (releaseHold called from returnAdmissionHold) until `go()`. */
function stallReturn(s: Stack): { stalled: () => Promise<void>; go: () => void } {
  const db = s.dbs.inventory as unknown as { transaction: (...a: unknown[]) => Promise<unknown> };
  const original = db.transaction.bind(db);
  let go!: () => void;
  const gate = new Promise<void>((r) => (go = r));
  let seen!: () => void;
  const stalledP = new Promise<void>((r) => (seen = r));
  let armed = true;
  db.transaction = (...args: unknown[]) => {
    const stackText = new Error().stack ?? '';
    if (armed && stackText.includes('returnAdmissionHold')) {
      armed = false;
      seen();
      return gate.then(() => original(...args));
    }
    return original(...args);
  };
  return { stalled: () => stalledP, go };
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a fence whose return lands after the same request reopened the checkout must not give back the hold its run placed an order on', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 1 });
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  lateFirstStart(stack); // A's update-with-start: DEADLINE_EXCEEDED, never executed
  const { stalled, go } = stallReturn(stack);

  const key = `k-${cartId}`;
  const body = { cartId, email: 'stalled-return@example.com', paymentToken: 'tok_visa' };
  // A: fenced (503 on its way), stalled before its return
  const first = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  // (since the fix the API gives no hold back on a fence it may reopen: A is fenced and answers, nothing to stall)
  const fenced = async () => {
    for (;;) {
      const [row] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId));
      if (row?.status === 'failed') return;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await Promise.race([stalled(), fenced()]);

  // A': the same request again: reopens, holds (a repeat of A's hold), its run places the order
  const again = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  expect(again.status).toBe(201);
  const checkoutId = again.body.checkoutId as string;

  // A's return lands now
  go();
  const a = await first;
  expect(a.status).toBe(503);

  // while A''s run is still capturing, its hold must stand: the last unit is not for sale
  const statuses = (await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId))).map((h) => h.status);
  const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));

  // customer B tries to buy the same last unit
  const other = await stack.http('POST', '/carts', { body: {} });
  const otherId = other.body.id as string;
  await stack.http('PUT', `/carts/${otherId}/lines/${sku}`, { body: { quantity: 1 } });
  const b = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `k-${otherId}` }, body: { cartId: otherId, email: 'b@example.com', paymentToken: 'tok_visa' } });

  // let both runs finish (capture paused 6 s)
  const row = await eventually(
    () => getCheckout(stack.dbs.order, checkoutId),
    (r) => r !== undefined && r.status !== 'pending',
  );
  // both runs settle (the capture pauses 6 s; on a loaded machine the finishing takes longer): the placed order paid, or parked
  const orderRows = await settledOrdersOf(stack, sku);
  const [after] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));

  expect({
    holdOfPlacedOrder: statuses,
    reservedWhilePlaced: level?.reserved,
    otherCustomer: b.status,
    placedRow: row?.status,
    stockAfter: after && { onHand: after.onHand, reserved: after.reserved, sold: after.sold },
    orders: orderRows,
  }).toEqual({
    holdOfPlacedOrder: ['held'],
    reservedWhilePlaced: 1,
    otherCustomer: 409,
    placedRow: 'placed',
    stockAfter: { onHand: 0, reserved: 0, sold: 1 },
    orders: [{ status: 'paid' }],
  });
});
