/**
 * Review r27d. usecases/place-checkout.ts `unsettled`: when update-with-start gave no definite
 * answer and Temporal could not say which run holds the checkout ('unknown'), the API fences the
 * row; the fence fails when a run has claimed it, and the API then answers the row as it is:
 * `row.status !== 'pending'` → resultOf(answeredViewOfRow(row)). Since r27c a run compensating
 * the checkout first turns the row into `failed` with the `closing` placeholder (failOrder /
 * cancelOrder, markCheckoutClosing) which its recordCheckoutFailure replaces. answerOfRow treats
 * that placeholder as not answered, but `unsettled` does not: the customer is told 502
 * checkout_failed "the checkout is being compensated", and the same request again answers the
 * run's real failure (402 payment_declined). A replayed request answers differently.
 *
 * Fault model: the call reaches the server (the run starts) but its reply is lost
 * (DEADLINE_EXCEEDED), and the describe that follows does not answer (Temporal overloaded).
 * The run's failOrder is slow to return (FAULT_PAUSE_AFTER=failOrder): the row is `closing`
 * while the API looks.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { findCheckoutByKey, getCheckout, isClosingCheckout } from '../../db/stores/checkouts';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

jest.setTimeout(120_000);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '20000', FAULT_PAUSE_AFTER: 'failOrder', FAULT_PAUSE_MS: '8000' } });
});

afterAll(async () => {
  await stack?.close();
});

const grpcError = (code: status, message: string): Error =>
  Object.assign(new Error(`${code} ${message}`), { code, details: message, metadata: new Metadata() });

test('a request whose start went unanswered while its run is compensating answers what a replay answers, never the closing placeholder', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 10 });
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

  const service = stack.temporal.connection.workflowService;
  const originalMulti = service.executeMultiOperation.bind(service);
  const originalDescribe = service.describeWorkflowExecution.bind(service);
  let faulty = true;
  service.executeMultiOperation = ((req: Parameters<typeof originalMulti>[0]) => {
    if (!faulty) return originalMulti(req);
    // the server executes the start (the run goes on); the reply is lost once the run is compensating
    return originalMulti(req).then(async () => {
      await eventually(async () => {
        const row = await findCheckoutByKey(stack.dbs.order, cartId, `k-${cartId}`);
        return row && isClosingCheckout(row) ? true : undefined;
      }, 20_000, 'the run marked the row closing');
      throw grpcError(status.DEADLINE_EXCEEDED, 'upstream request timeout');
    });
  }) as typeof service.executeMultiOperation;
  service.describeWorkflowExecution = ((req: Parameters<typeof originalDescribe>[0]) =>
    faulty ? Promise.reject(grpcError(status.UNAVAILABLE, 'overloaded')) : originalDescribe(req)) as typeof service.describeWorkflowExecution;

  const request = { headers: { 'Idempotency-Key': `k-${cartId}` }, body: { cartId, email: 'closing-unsettled@example.com', paymentToken: 'tok_chargeDeclined' } };
  let first;
  try {
    first = await stack.http('POST', '/checkouts', request);
  } finally {
    faulty = false;
    service.executeMultiOperation = originalMulti as typeof service.executeMultiOperation;
    service.describeWorkflowExecution = originalDescribe as typeof service.describeWorkflowExecution;
  }
  const checkoutId = (first.body.checkoutId ?? first.body.error?.details?.checkoutId) as string;
  expect(checkoutId).toBeDefined();

  // the run finishes its compensation and records its own failure
  await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result().catch(() => undefined);
  const row = await getCheckout(stack.dbs.order, checkoutId);
  expect(row && isClosingCheckout(row)).toBe(false);

  const replay = await stack.http('POST', '/checkouts', request);
  const told = (r: typeof first) => ({ status: r.status, code: r.body.error?.code ?? r.body.failure?.code ?? r.body.status, message: r.body.error?.message ?? r.body.failure?.message });
  // never the placeholder: pending (its run had not recorded its answer yet; polling shows it) or the replay's own answer
  expect(told(replay)).toMatchObject({ status: 402, code: 'payment_declined' });
  expect(first.status === 202 ? { status: 202, code: first.body.status } : told(first)).toEqual(first.status === 202 ? { status: 202, code: 'pending' } : told(replay));
});
