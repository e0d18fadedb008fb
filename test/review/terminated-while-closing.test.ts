/**
 * Review r27d. A checkout run terminated (support, a run timeout) between failOrder — which
 * since r27c turns the still-pending row into `failed` with the `closing` placeholder — and its
 * recordCheckoutFailure. Nothing ever replaces the placeholder:
 * - reconciliation sees the row `failed` (db/stores/reconcile.ts reads status only), so its plan
 *   returns the money and the stock but never records the checkout's failure
 *   (decideCheckout: failCheckout only for a pending row); before r27c the row stayed pending and
 *   reconciliation closed it with "did not complete; <what happened to the money>";
 * - a replay of the request treats the placeholder as "not answered" (answerOfRow): it locks the
 *   cart again and update-with-start starts a NEW run of the cart's workflow, whose claim finds a
 *   non-pending row and answers the placeholder itself: 502 checkout_failed "the checkout is
 *   being compensated" — forever, for every replay, each one a fresh workflow run and a fresh
 *   cart lock (the new run finishes from `previous` without unlocking the cart).
 * Fixed: reconciliation reads a closing row as pending (and abandonCheckout closes it); a
 * request meeting a closing row asks the run that claimed it and, that run gone, answers pending
 * without a lock or a new run.
 */
import { abandonCheckout, getCheckout, isClosingCheckout } from '../../db/stores/checkouts';
import { checkoutsCreatedBetween } from '../../db/stores/reconcile';
import { decideCheckout } from '../../workflows/reconcile-plan';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(120_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '2000', FAULT_PAUSE_AFTER: 'failOrder', FAULT_PAUSE_MS: '60000' } });
});

afterAll(async () => {
  await stack?.close();
});

test('a run terminated while the row is closing: reconciliation and replays never leave the placeholder as the answer', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 10 });
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  const request = { headers: { 'Idempotency-Key': `k-${cartId}` }, body: { cartId, email: 'closing-terminated@example.com', paymentToken: 'tok_chargeDeclined' } };
  const first = await stack.http('POST', '/checkouts', request);
  expect(first.status).toBe(202);
  const checkoutId = first.body.checkoutId as string;
  const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
  const firstRunId = (await handle.describe()).runId;
  await eventually(async () => {
    const row = await getCheckout(stack.dbs.order, checkoutId);
    return row && isClosingCheckout(row) ? row : undefined;
  }, 30_000, 'the run marked the row closing');
  await handle.terminate('test: terminated during compensation');

  // the same request again, as a storefront polling a lost answer does: the run is gone, so no
  // new run is started for it (one would only meet the placeholder): pending, no lock taken
  const replay = await stack.http('POST', '/checkouts', request);
  const replayRun = (await handle.describe()).runId;
  expect({ status: replay.status, state: replay.body.status, newRunStarted: replayRun !== firstRunId }).toEqual({ status: 202, state: 'pending', newRunStarted: false });
  expect((await stack.http('GET', `/checkouts/${checkoutId}`)).body.status).toBe('pending');

  // reconciliation reads the closing row as pending (its run gone, its hold still held) and records the failure
  const [seen] = (await checkoutsCreatedBetween(stack.dbs.order, { from: new Date(Date.now() - 600_000), to: new Date(), limit: 1000 })).filter((c) => c.checkoutId === checkoutId);
  expect(seen?.status).toBe('pending');
  const plan = decideCheckout({ checkout: { ...seen!, orderCanPark: false }, running: false, payment: { ledger: null, gateway: null }, holds: ['held'] });
  expect(plan.failCheckout).toBe(true);
  expect(await abandonCheckout(stack.dbs.order, checkoutId, seen!.runId, { code: 'checkout_failed', message: 'the checkout did not complete' })).toBe(true);
  const after = await getCheckout(stack.dbs.order, checkoutId);
  expect(after && isClosingCheckout(after)).toBe(false);
  // and the same request is then answered with that failure, never the placeholder
  const answered = await stack.http('POST', '/checkouts', request);
  expect({ status: answered.status, message: answered.body.error?.message }).toEqual({ status: 502, message: 'the checkout did not complete' });
});
