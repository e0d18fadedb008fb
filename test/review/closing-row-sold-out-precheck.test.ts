/**
 * Review r27e. usecases/place-checkout.ts heldByLiveCheckout (the sold-out pre-check's "is this
 * cart's last checkout still running?") reads `row.status === 'pending'`. A checkout its run is
 * compensating is `failed` with the `closing` placeholder (markCheckoutClosing, written by
 * failOrder) while its hold still stands (releaseStock runs after failOrder). e2eef8e made a
 * closing row pending to every reader (GET, replays, reconciliation) but not to this one.
 *
 * Interleaving: checkout A of the cart holds the last unit; its authorize is declined; its
 * compensation runs failOrder (row closing) and is slow to return (FAULT_PAUSE_AFTER=failOrder),
 * and the cart's lock has lapsed (STOCK_HOLD_TTL_SECONDS short; a gateway outage in the void
 * does the same in production). The customer sends a new request (new Idempotency-Key) on the
 * same cart: heldByLiveCheckout says "not live", the pre-check reads the unit as taken — by
 * this cart's own compensating checkout — and answers 409 out_of_stock, recorded under the key
 * for good. The stock comes back a moment later; the same request replayed still says sold out.
 * The pre-check's own contract: "a cart another live checkout holds is left to that path
 * (checkout_in_progress): its hold is that checkout's, not a sale lost".
 */
import { findCheckoutByKey, isClosingCheckout } from '../../db/stores/checkouts';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(120_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '20000', STOCK_HOLD_TTL_SECONDS: '2', FAULT_PAUSE_AFTER: 'failOrder', FAULT_PAUSE_MS: '12000' } });
});

afterAll(async () => {
  await stack?.close();
});

test('a cart whose checkout is being compensated is not refused as sold out by its own hold', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 1 });
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  const first = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `a-${cartId}` }, body: { cartId, email: 'closing-precheck@example.com', paymentToken: 'tok_chargeDeclined' } });
  // A's run is compensating: the row is closing, its hold still stands, the cart's lock has lapsed
  await eventually(async () => {
    const row = await findCheckoutByKey(stack.dbs.order, cartId, `a-${cartId}`);
    return row && isClosingCheckout(row) ? true : undefined;
  }, 20_000, 'the run marked the row closing');
  await new Promise((r) => setTimeout(r, 2_500));

  const retry = { headers: { 'Idempotency-Key': `b-${cartId}` }, body: { cartId, email: 'closing-precheck@example.com', paymentToken: 'tok_visa' } };
  const second = await stack.http('POST', '/checkouts', retry);
  await first;
  await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result().catch(() => undefined);

  // the unit is back (A released it); the same request again
  const replay = await stack.http('POST', '/checkouts', retry);
  const code = (r: typeof second) => r.body.error?.code ?? r.body.failure?.code ?? r.body.status;
  expect({ second: [second.status, code(second)], replay: [replay.status, code(replay)] }).not.toMatchObject({ second: [409, 'out_of_stock'] });
  expect(code(replay)).not.toBe('out_of_stock');
});
