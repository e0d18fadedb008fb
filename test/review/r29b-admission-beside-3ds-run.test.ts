/**
 * Review r29b: the admission hold is taken for a second checkout of a cart whose first checkout
 * is still running — waiting for its 3-D Secure step, its hold kept (keepStockHeld), its cart
 * lock lapsed (the lock's deadline is STOCK_HOLD_TTL_SECONDS from the request; the 3-D Secure
 * wait is PAYMENT_ACTION_TIMEOUT_MINUTES from the authorization, extended while the processor
 * works: docs say the wait outlives the lock).
 *
 * placeCheckout skips the sold-out pre-check for such a cart (heldByLiveCheckout: "its hold is
 * that checkout's, not a sale lost"), but the admission is gated on `judgeable` only, not on
 * `judged`: the new checkout (another Idempotency-Key — the customer pressing "Pay" again in
 * another tab) takes the lapsed lock, reads the same lines and holds them a second time under
 * its own id.
 *  - Stock left: the second copy is reserved; update-with-start meets the running run
 *    (checkout_in_progress) → `unsettled(another)` fences the row notStarted and gives nothing
 *    back (a fence it may reopen); reconciliation leaves it (the cart's workflow is running:
 *    workflowsRunning asks by workflow id), so it stays reserved until the sweep, and every
 *    further press reserves one more copy.
 *  - The last unit, held by the 3-D Secure run: the admission is refused and the new checkout is
 *    fenced and answered 409 out_of_stock — "sold out" for the unit the customer's own checkout
 *    holds — where before the admission hold it was 409 checkout_in_progress (the pre-check is
 *    skipped for exactly this case).
 */
import { eq } from 'drizzle-orm';
import { holds } from '../../db/schema/inventory';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { threeDSecureShop } from '../helpers/three-d-secure';

jest.setTimeout(90_000);

let stack: Stack;
const shop = threeDSecureShop(() => stack);

beforeAll(async () => {
  // a cart lock of 2 s stands for a 3-D Secure wait that outlived its 15 min lock
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '3000', STOCK_HOLD_TTL_SECONDS: '2' } });
});

afterAll(async () => {
  await stack?.close();
});

async function waitingFor3ds(cartId: string, key: string) {
  const first = await shop.checkout(cartId, key, 'three-d@example.com');
  expect(first.status).toBe(202);
  expect(first.body.nextAction).toBeDefined();
  // the cart lock's deadline passes; the run keeps its hold while it waits
  await new Promise((r) => setTimeout(r, 2_500));
  return first.body.checkoutId as string;
}

test('a second checkout of a cart whose 3-D Secure checkout is waiting reserves nothing more', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 5 });
  const cartId = await shop.cartWith(sku, 2);
  await waitingFor3ds(cartId, `k1-${cartId}`);
  expect((await shop.stockOf(sku))?.reserved).toBe(2);

  const again = await shop.checkout(cartId, `k2-${cartId}`, 'three-d@example.com', 'tok_visa');
  const secondHold = (await stack.dbs.inventory.select().from(holds).where(eq(holds.sku, sku))).map((h) => ({ holdId: h.holdId, status: h.status }));
  expect({ status: again.status, code: again.body?.error?.code ?? again.body?.code, reserved: (await shop.stockOf(sku))?.reserved, holds: secondHold.length }).toEqual({
    status: 409,
    code: 'checkout_in_progress',
    reserved: 2,
    holds: 1,
  });
});

test("a second checkout of a cart whose 3-D Secure checkout holds the last unit is answered checkout_in_progress, not out_of_stock", async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 1 });
  const cartId = await shop.cartWith(sku, 1);
  await waitingFor3ds(cartId, `k1-${cartId}`);

  const again = await shop.checkout(cartId, `k2-${cartId}`, 'three-d@example.com', 'tok_visa');
  expect({ status: again.status, code: again.body?.error?.code ?? again.body?.code }).toEqual({ status: 409, code: 'checkout_in_progress' });
});
