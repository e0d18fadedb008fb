/**
 * Review r29a: an admission hold whose request never started a run (the API process died
 * between `admit` and update-with-start; or its fence failed: the row stays pending, no run)
 * is left `held` under the checkout's id until the sweep expires it (or reconciliation releases
 * it). The storefront's retry of that request (same Idempotency-Key) finds the row pending and
 * goes on: its admission hold meets the `expired` (or `released`) rows → HoldReleased →
 * "undecided"; the run's holdStock meets them too → HoldReleased → `hold_mismatch`: the
 * checkout fails for a reason that has nothing to do with stock (there is plenty), and
 * the replay can never succeed. Before the admission hold, such a row held nothing: the retry's
 * run held afresh and placed the order.
 *
 * Fault model: the crashed request's writes (row opened, cart locked, admission hold taken) are
 * made with the stores, as placeCheckout makes them; the hold's deadline then passes and the
 * expired-hold sweep runs.
 */
import { checkoutBodySchema } from '../../api/schemas/checkouts';
import { requestHash } from '../../api/idempotency';
import { CartStore } from '../../db/stores/cart';
import { openCheckout } from '../../db/stores/checkouts';
import { holdStock, releaseExpiredHolds } from '../../db/stores/holds';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(90_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '5000' } });
});

afterAll(async () => {
  await stack?.close();
});

test('the same request again, after the API died between its admission hold and the start and the hold expired, is judged afresh (plenty of stock: placed)', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 5 });
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  const key = `k-${cartId}`;
  const body = { cartId, email: 'crashed@example.com', paymentToken: 'tok_visa' };
  // what the crashed request wrote: its row, its cart lock, its admission hold
  const { checkout } = await openCheckout(stack.dbs.order, {
    cartId,
    idempotencyKey: key,
    requestHash: requestHash(checkoutBodySchema.parse(body)),
    email: body.email,
    workflowId: checkoutWorkflowId(cartId),
  });
  const carts = new CartStore(stack.redis, stack.dbs.cart, stack.config.cart);
  await carts.lock(cartId, checkout.checkoutId, Date.now() + 1_000);
  expect((await holdStock(stack.dbs.inventory, checkout.checkoutId, [{ sku, quantity: 1 }], 0)).status).toBe('held');
  // its deadline passes: the sweep gives the unit back
  await new Promise((r) => setTimeout(r, 1_100));
  await releaseExpiredHolds(stack.dbs.inventory, 1_000);

  const again = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body });
  expect({ status: again.status, code: again.body?.error?.code ?? again.body?.code, message: again.body?.error?.message ?? again.body?.message }).toMatchObject({ status: 201 });
  expect(again.body).toMatchObject({ checkoutId: checkout.checkoutId, status: 'placed' });
});
