/**
 * Review r27c. The same request again (after a 503 that fenced the row) reopens the row and
 * sends its update under an id of its own. The late run of the first call may still be RUNNING
 * at that moment, having found the row failed in its claim (it is about to close with the
 * fence's failure). The reopened request's update-with-start then attaches to that run
 * (USE_EXISTING), whose placeOrder handler answers its stored outcome — the fence's failure
 * (service_unavailable, notStarted). The request answers 503 "send the same request again",
 * but the row was reopened: it is now pending, with no run (none claims it), and it is no longer
 * "not started" (isStartNotConfirmed needs failed), so the next same request does not reopen it:
 * it sends the original update id `place-order-<id>` to the closed late run, which Temporal
 * answers from that run (the fence's failure) — 503 again, forever; the checkout never places.
 *
 * Fault model: the first executeMultiOperation answers DEADLINE_EXCEEDED and is executed by the
 * server later (as in uws-ended-call-late-start); the late run's claim is slow to return
 * (FAULT_PAUSE_AFTER=claimCheckout: a slow workflow task), and the retry lands in that window.
 */
import { getCheckout } from '../../db/stores/checkouts';
import { lateFirstStart } from '../helpers/late-start';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(120_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '15000', FAULT_PAUSE_AFTER: 'claimCheckout', FAULT_PAUSE_MS: '8000' } });
});

afterAll(async () => {
  await stack?.close();
});

test('a retry that reopens the fenced row while the late run is closing: its 503 leaves a pending row no run holds, and the same request never places', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 10 });
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  const { release } = lateFirstStart(stack);

  const key = `k-${cartId}`;
  const request = { headers: { 'Idempotency-Key': key }, body: { cartId, email: 'reopen-race@example.com', paymentToken: 'tok_visa' } };
  const answer = await stack.http('POST', '/checkouts', request);
  expect(answer.status).toBe(503);
  const checkoutId = answer.body.error.details.checkoutId as string;

  // the late start lands: its run claims (finds the row failed) and is slow to return from the claim
  release();
  await new Promise((r) => setTimeout(r, 4_000));
  expect((await stack.temporal.workflow.getHandle(`checkout-${cartId}`).describe()).status.name).toBe('RUNNING');

  // the customer sends the same request again, as the 503 asked
  const again = await stack.http('POST', '/checkouts', request);
  await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result().catch(() => undefined);
  const row = await getCheckout(stack.dbs.order, checkoutId);
  const running = (await stack.temporal.workflow.getHandle(`checkout-${cartId}`).describe()).status.name;
  // what it was told must agree with the row: a 503 leaves a row the same request reopens; a 202 a run that holds it
  const told = { status: again.status, code: again.body.error?.code ?? again.body.status };
  expect({ told, row: row?.status, runId: row?.runId ?? null, running }).not.toMatchObject({ row: 'pending', runId: null, running: 'COMPLETED' });

  // and the same request, sent again as told, eventually places the checkout
  let last = again;
  for (let i = 0; i < 3 && last.status !== 201; i++) {
    await new Promise((r) => setTimeout(r, 2_500));
    last = await stack.http('POST', '/checkouts', request);
  }
  expect({ status: last.status, body: last.body }).toMatchObject({ status: 201, body: { checkoutId, status: 'placed' } });
});
