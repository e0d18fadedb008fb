/**
 * Review r29a: two copies of the same checkout request (same Idempotency-Key: a client retry
 * racing the original) are admitted against stock that changes between them. A's admission hold
 * is refused (the unit is held by someone else), so A fences the row failed out_of_stock. A'
 * passed answerOfRow before that fence, and its admission hold is taken (the other holder gave
 * the unit back meanwhile): `held` under the checkout's id. A' then starts the run, which finds
 * the row failed and stops (claimCheckout → the fence's failure) without compensating — and
 * nobody returns A''s admission hold: the unit stays reserved for a checkout that is over
 * (answered 409 out_of_stock to both copies) until the hold's TTL (15 min by default) or
 * reconciliation — in a flash sale, a unit nobody can buy.
 *
 * Fault model: A's fence (abandonCheckout) and A''s update-with-start are each held back until
 * the test lets them go (the two requests interleave; nothing is lost).
 */
import { eq } from 'drizzle-orm';
import { holds, stock } from '../../db/schema/inventory';
import { holdStock, releaseHold } from '../../db/stores/holds';
import { holdBackNextFence, holdBackNextStart } from '../helpers/interleavings';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(90_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '5000' } });
});

afterAll(async () => {
  await stack?.close();
});

test('a duplicate whose admission hold was taken after the other copy was refused does not leave the unit reserved once the checkout is answered', async () => {
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
  const start = holdBackNextStart(stack);

  const key = `k-${cartId}`;
  const body = { cartId, email: 'dup@example.com', paymentToken: 'tok_visa' };
  // the unit is back for sale when A passes the sold-out pre-check, and taken by a third
  // customer just before A's admission hold
  await releaseHold(stack.dbs.inventory, other);
  const third = `third-${sku}`;
  const tx = stack.dbs.inventory as unknown as { transaction: (...a: unknown[]) => Promise<unknown> };
  const transaction = tx.transaction.bind(tx);
  let admitArmed = true;
  tx.transaction = async (...args: unknown[]) => {
    if (admitArmed && (new Error().stack ?? '').includes('admit')) {
      admitArmed = false;
      await holdStock(stack.dbs.inventory, third, [{ sku, quantity: 1 }], 600);
    }
    return transaction(...args);
  };
  const a = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  await fence.reached;
  // A was refused by its admission hold; the third holder gives the unit back; A' comes in
  await releaseHold(stack.dbs.inventory, third);
  const a2 = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  await start.reached;
  fence.open();
  const first = await a;
  start.open();
  const second = await a2;

  const checkoutId = (first.body?.error?.details?.checkoutId ?? first.body?.checkoutId) as string;
  await new Promise((r) => setTimeout(r, 1_000));
  const rows = await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId));
  const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
  expect({ a: first.status, a2: second.status }).toEqual({ a: 409, a2: 409 });
  expect({ held: rows.filter((h) => h.status === 'held').length, reserved: level?.reserved }).toEqual({ held: 0, reserved: 0 });
});
