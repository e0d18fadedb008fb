/**
 * Review r29b: reconciliation gives back the admission hold of a 503-fenced checkout from facts
 * that were true when it read them, after the same request reopened the checkout and its run
 * placed the order on that hold. The API no longer gives a hold back on a fence it may reopen
 * (review r29a), and docs/architecture.md names reconciliation as who releases such a hold —
 * but reconciliation's release is the same late give-back, not tied to the fence it saw.
 *
 * Before the admission hold a 503 fence held nothing (a late run met the failed row and held
 * nothing), so reconciliation's plan for such a row had no hold to release (`holds` empty →
 * releaseHold false). Now the fenced row keeps a `held` hold under its id, so its plan is
 * `releaseHold: true, failCheckout: false` — and with `failCheckout` false, repairCheckout runs
 * releaseStock(checkoutId) with no guard (no abandonCheckout on the row, no check that the row
 * is still failed or that no run claimed it).
 *
 * Interleaving: request A holds the last unit (admission), its update-with-start ends without
 * a definite answer → fenced 503 (notStarted), hold left `held`. Reconciliation (past
 * RECONCILE_GRACE_SECONDS: e.g. the customer comes back with the same request minutes later, or
 * an outage kept answering 503) reads the page's facts: row failed, no order, workflow not
 * running, hold `held` → plan releaseHold. It repairs the page's checkouts one after the
 * other (gateway voids, …): meanwhile the same request A' reopens the row, its admission repeats
 * the held hold, its run claims, holds (repeat), authorizes and places the order: 201. Then
 * reconciliation's releaseStock for that checkout runs: the hold the order stands on goes to
 * `released`, the unit is for sale again; customer B buys it: 201. Two orders for one unit;
 * A''s commit meets `released` and its paid order is parked.
 *
 * Fault model: reconciliation's steps are the real activities (reconcileActivities,
 * inventoryActivities.releaseStock) and the real plan (decideCheckout), called in the order the
 * reconcile workflow calls them, with A' between its facts and its repair; A's first
 * update-with-start answers DEADLINE_EXCEEDED (never landing); the capture pauses 6 s.
 */
import { eq } from 'drizzle-orm';
import { reconcileActivities } from '../../activities/reconcile';
import { inventoryActivities } from '../../activities/inventory';
import { getCheckout } from '../../db/stores/checkouts';
import { holds, stock } from '../../db/schema/inventory';
import { checkouts } from '../../db/schema/order';
import { decideCheckout } from '../../workflows/reconcile-plan';
import { lateFirstStart } from '../helpers/late-start';
import { settledOrdersOf } from '../helpers/interleavings';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(120_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    worker: true,
    env: { CHECKOUT_WAIT_MS: '4000', RECONCILE_GRACE_SECONDS: '0', FAULT_PAUSE_BEFORE: 'captureAndFinishPaidCheckout', FAULT_PAUSE_MS: '6000' },
  });
});

afterAll(async () => {
  await stack?.close();
});

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("reconciliation's release of a 503-fenced checkout's admission hold must not land on the hold its reopened run placed an order on", async () => {
  const deps = stack.activityDeps!;
  const reconcile = reconcileActivities(deps);
  const inventory = inventoryActivities(deps);
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 1 });
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  lateFirstStart(stack); // A's update-with-start: DEADLINE_EXCEEDED, never executed
  const key = `k-${cartId}`;
  const body = { cartId, email: 'reconciled@example.com', paymentToken: 'tok_visa' };
  const a = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  expect(a.status).toBe(503);
  const [fencedRow] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId));
  const checkoutId = fencedRow!.checkoutId;

  // reconciliation reads the facts of its page (this checkout among them) and decides
  const page = (await reconcile.listCheckoutsToReconcile({ limit: 100_000 })).filter((c) => c.checkoutId === checkoutId);
  expect(page).toHaveLength(1);
  const [running] = await reconcile.workflowsRunning(page.map((c) => ({ workflowId: c.workflowId, runId: c.runId })));
  const payments = await reconcile.paymentFacts(page.map((c) => ({ checkoutId: c.checkoutId, workflowId: c.workflowId })));
  const heldNow = await reconcile.holdsOfCheckouts([checkoutId]);
  const plan = decideCheckout({ checkout: page[0]!, running: running ?? true, payment: payments[checkoutId] ?? { ledger: null, gateway: null }, holds: heldNow[checkoutId] ?? [] });
  // (since the fix: a reopenable fence's hold is not reconciliation's to release; before it, the plan said releaseHold: true)
  expect(plan).toMatchObject({ releaseHold: false, failCheckout: false });

  // A': the same request again (what the 503 asks for): reopened, its admission repeats the hold, its run places the order
  const again = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  expect(again.status).toBe(201);
  expect(again.body.checkoutId).toBe(checkoutId);

  // reconciliation reaches this checkout in its page: repairCheckout with plan.failCheckout false → releaseStock
  if (plan.releaseHold) await inventory.releaseStock(checkoutId);

  // while A''s run is still capturing, its hold must stand: the last unit is not for sale
  const statuses = (await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId))).map((h) => h.status);
  const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));

  // customer B tries to buy the same last unit
  const other = await stack.http('POST', '/carts', { body: {} });
  const otherId = other.body.id as string;
  await stack.http('PUT', `/carts/${otherId}/lines/${sku}`, { body: { quantity: 1 } });
  const b = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `k-${otherId}` }, body: { cartId: otherId, email: 'b@example.com', paymentToken: 'tok_visa' } });

  await eventually(
    () => getCheckout(stack.dbs.order, checkoutId),
    (r) => r !== undefined && r.status !== 'pending',
  );
  // the run settles (the capture pauses; on a loaded machine the finishing takes longer): the order paid, or parked
  const orderRows = await settledOrdersOf(stack, sku);
  const [after] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));

  expect({
    holdOfPlacedOrder: statuses,
    reservedWhilePlaced: level?.reserved,
    otherCustomer: b.status,
    stockAfter: after && { onHand: after.onHand, reserved: after.reserved, sold: after.sold },
    orders: orderRows,
  }).toEqual({
    holdOfPlacedOrder: ['held'],
    reservedWhilePlaced: 1,
    otherCustomer: 409,
    stockAfter: { onHand: 0, reserved: 0, sold: 1 },
    orders: [{ status: 'paid' }],
  });
});
