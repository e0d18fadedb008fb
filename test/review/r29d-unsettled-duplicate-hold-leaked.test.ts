/**
 * Review r29d: the r29a fix (a duplicate's admission hold given back once the run answers from
 * the fenced row) covers only the branch where the run answered. The same duplicate whose
 * update-with-start gets no definite answer from Temporal (UNAVAILABLE, a deadline, a start
 * given up: runCheckout → not_started / unknown) goes through `unsettled`: its fence
 * (abandonCheckout with no run) finds the row already failed out_of_stock by the other copy, so
 * the request answers the row's 409 — and nobody gives back the admission hold it took. The
 * unit stays reserved for a checkout answered 409 out_of_stock to both copies until the sweep
 * (STOCK_HOLD_TTL_SECONDS, 15 min) or reconciliation: in a flash sale, a unit nobody can buy.
 * (The `timeout` branch calls answeredFailure and releases; `unsettled` answers the row with
 * resultOf(answeredViewOfRow(row)) and no releaseFencedHold.)
 *
 * Fault model: as r29a (A's fence held back until A' passed answerOfRow); A''s admission hold
 * lands after A answered (A's own give-back found nothing), and A''s update-with-start is
 * answered UNAVAILABLE by the frontend (no run started).
 */
import { eq } from 'drizzle-orm';
import { holds, stock } from '../../db/schema/inventory';
import { holdStock, releaseHold } from '../../db/stores/holds';
import { gate, holdBackNextFence, holdBackNextStart } from '../helpers/interleavings';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(60_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '5000' } });
});

afterAll(async () => {
  await stack?.close();
});

test('a duplicate whose admission hold was taken after the other copy was refused, and whose start Temporal did not answer, does not leave the unit reserved', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 1 });
  // someone else holds the only unit
  const other = `other-${sku}`;
  expect((await holdStock(stack.dbs.inventory, other, [{ sku, quantity: 1 }], 600)).status).toBe('held');

  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  // A's fence (abandonCheckout after its refused admission) waits for `fence`
  const fence = holdBackNextFence(stack);
  // A''s update-with-start waits for `start`
  const start = holdBackNextStart(stack, { unavailable: true });

  const key = `k-${cartId}`;
  const body = { cartId, email: 'dup@example.com', paymentToken: 'tok_visa' };
  // the unit is back for sale when A passes the sold-out pre-check, and taken by a third
  // customer just before A's admission hold
  await releaseHold(stack.dbs.inventory, other);
  const third = `third-${sku}`;
  const tx = stack.dbs.inventory as unknown as { transaction: (...a: unknown[]) => Promise<unknown> };
  const transaction = tx.transaction.bind(tx);
  let admitArmed = true;
  // A''s admission hold waits for `admit2` (A' passed answerOfRow while the row was pending)
  const admit2 = gate();
  let admits = 0;
  let injecting = false;
  tx.transaction = async (...args: unknown[]) => {
    const trace = new Error().stack ?? '';
    if (trace.includes('admit') && !trace.includes('releaseFencedHold') && !injecting) {
      admits += 1;
      if (admitArmed) {
        admitArmed = false;
        injecting = true;
        await holdStock(stack.dbs.inventory, third, [{ sku, quantity: 1 }], 600);
        injecting = false;
      } else if (admits === 2) {
        admit2.reach();
        await admit2.wait;
      }
    }
    return transaction(...args);
  };
  const a = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  await fence.reached;
  // A was refused by its admission hold; the third holder gives the unit back; A' comes in
  await releaseHold(stack.dbs.inventory, third);
  const a2 = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  await admit2.reached;
  // A fences the row and answers (giving back whatever is held under the id: nothing yet) ...
  fence.open();
  const first = await a;
  // ... then A''s admission hold is taken (the unit is free), and its start gets no answer
  admit2.open();
  await start.reached;
  start.open();
  const second = await a2;

  const checkoutId = (first.body?.error?.details?.checkoutId ?? first.body?.checkoutId) as string;
  await new Promise((r) => setTimeout(r, 1_000));
  const rows = await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId));
  const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
  expect(start.starts()).toBeGreaterThan(0);
  expect({ a: first.status, a2: second.status, a2code: second.body?.error?.code }).toEqual({ a: 409, a2: 409, a2code: 'out_of_stock' });
  expect({ held: rows.filter((h) => h.status === 'held').length, reserved: level?.reserved }).toEqual({ held: 0, reserved: 0 });
});
