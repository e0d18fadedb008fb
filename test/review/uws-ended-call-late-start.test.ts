/**
 * Review r27b: POST /checkouts treats "the update-with-start call has ended" + "Temporal says
 * no run" as proof that no run will start, and gives the cart's lock back (503). An ended call
 * is no such proof: a DEADLINE_EXCEEDED (a proxy/LB route timeout, the frontend's own timeout
 * towards a slow history shard) ends the call while the server still executes the start —
 * the SDK itself calls it WorkflowUpdateRPCTimeoutOrCancelledError, "may or may not have been
 * delivered". The start then lands after the describe: the run places the order and charges
 * the customer who was told 503 "could not be started", on a cart that was unlocked meanwhile
 * (here the customer, told 503, added a line: the late run froze and charged that too).
 * Fixed: the 503 fences the checkout row (failed, unless a run claimed it): the late run's
 * claim finds it failed and stops; the same request again reopens it.
 *
 * Fault model: the API's first executeMultiOperation answers DEADLINE_EXCEEDED at once, and
 * the request is executed by the server a moment later (forwarded outside the API's call
 * context, as a request already on the server is: the API's abort no longer reaches it).
 */
import { eq } from 'drizzle-orm';
import { getCheckout } from '../../db/stores/checkouts';
import { payments } from '../../db/schema/payment';
import { lateFirstStart } from '../helpers/late-start';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(90_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '3000' } });
});

afterAll(async () => {
  await stack?.close();
});


test('a 503 whose update-with-start ended DEADLINE_EXCEEDED: the start that lands later finds its checkout fenced and places nothing; the same request again places it', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 10 });
  const extra = await createProduct(stack.dbs, { priceAmount: 5000, onHand: 10 });
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  // the first update-with-start: the caller is answered DEADLINE_EXCEEDED, the server executes it later
  const { release, landed } = lateFirstStart(stack);

  const key = `k-${cartId}`;
  const answer = await stack.http('POST', '/checkouts', {
    headers: { 'Idempotency-Key': key },
    body: { cartId, email: 'late-start@example.com', paymentToken: 'tok_visa' },
  });
  // told: the checkout could not be started, and the cart is given back
  expect(answer.status).toBe(503);
  expect(answer.body.error?.code ?? answer.body.code).toBe('service_unavailable');
  const checkoutId = (answer.body.error?.details ?? answer.body.details)?.checkoutId as string;
  expect(checkoutId).toBeDefined();

  // the customer, told 503, keeps shopping: the cart is unlocked, the change is accepted
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${extra}`, { body: { quantity: 1 } })).status).toBe(200);

  // the server now executes the start it had received
  release();
  await landed();

  // the late run finds its checkout fenced (the 503 failed the row before any run claimed it) and stops
  await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result().catch(() => undefined);
  const row = await getCheckout(stack.dbs.order, checkoutId);
  const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
  // A 503 "could not be started" is never followed by an order or a charge the customer did not
  // send again (least of all for a line added after the 503, on the cart the 503 gave back).
  expect({ status: row?.status, orderId: row?.orderId ?? undefined, payment }).toEqual({ status: 'failed', orderId: undefined, payment: undefined });
  expect(row?.failure).toMatchObject({ code: 'service_unavailable', details: { notStarted: true } });

  // the same request again (what the 503 asks for) reopens the checkout and places it: the cart as it is now
  const again = await stack.http('POST', '/checkouts', {
    headers: { 'Idempotency-Key': key },
    body: { cartId, email: 'late-start@example.com', paymentToken: 'tok_visa' },
  });
  expect(again.status).toBe(201);
  expect(again.body).toMatchObject({ checkoutId, status: 'placed', total: { amount: 6000, currency: 'USD' } });
});
