import { and, eq, like } from 'drizzle-orm';
import { checkouts } from '../../db/schema/order';
import { localGatewayOperations as ops } from '../../db/schema/payment';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { unseenVoidWorkflowId, voidUnseenAuthorizationWorkflow } from '../../workflows/void-unseen-authorization';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review r26e, against 8a060b7 (patch checkout-void-unseen-authorization).
 *
 * The unseen-void child (unseen-void-<checkoutId>, ABANDON) outlives its parent and is keyed
 * only by the checkoutId. Its voidPayment(onlyIfAttempted) takes the ordinary path whenever a
 * payment row exists for the checkoutId — it refunds/voids whatever the checkout's payment is.
 *
 * Interleaving: run 1 of checkout-<cartId> is refused before its authorize step was registered
 * (expired hold after a lost task that DID send the authorize → mark `attempted`), starts the
 * child and closes. The gateway is down: the child retries voidPayment without limit (the mark
 * is `attempted`, so the key is NOT fenced). Support Resets checkout-<cartId> to its first
 * workflow task (same input → same checkoutId → same keys): the reset run claims stock again,
 * markAuthorizationAttempt finds `attempted` → sends the authorize (idempotent: same auth),
 * records the payment, places the order, captures. Its own unseen-void start (if it ever fails
 * again) would hit REJECT_DUPLICATE, but the success path never consults the child at all.
 * The gateway comes back: the child finds the payment row (reset run's), returnMoney → refunds
 * the captured order; then recordCheckoutFailure flips the placed checkout's row to `failed`,
 * and a failure notice goes out for a paid order.
 *
 * Driving a real Reset + outage is slow; this test reproduces the state the child meets after
 * it: the checkout (same checkoutId) placed and captured, then the child the first run left
 * running (same id, same args the parent builds) gets to run. It must not touch a placed order.
 */
describe('the unseen-void child of an earlier run meets the same checkout placed (a support Reset)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '15000' } });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('does not refund the placed order nor mark its checkout failed', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1700, onHand: 3 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const res = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': `r26e-${cartId}` },
      body: { cartId, email: 'r26e-reset@example.com', paymentToken: 'tok_visa' },
    });
    expect(res.status).toBe(201);
    const checkoutId = res.body.checkoutId as string;
    const workflowId = checkoutWorkflowId(cartId);
    const placed = await stack.temporal.workflow.getHandle(workflowId).result();
    expect(placed.status).toBe('placed');
    const key = (step: string) => `${workflowId}/${checkoutId}/${step}`;

    // the child run 1 left behind (args as workflows/checkout.ts builds them)
    const failure = { code: 'hold_mismatch', message: 'your items were no longer reserved; nothing was charged' };
    const money = await stack.temporal.workflow.execute(voidUnseenAuthorizationWorkflow, {
      workflowId: unseenVoidWorkflowId(checkoutId),
      taskQueue: stack.config.temporal.taskQueue,
      args: [
        {
          checkoutId,
          voidKey: key('void'),
          authorization: { checkoutId, idempotencyKey: key('authorize'), amount: { amount: 1700, currency: 'USD' }, paymentToken: 'tok_visa' },
          failure: failure as never,
          total: { amount: 1700, currency: 'USD' },
          notify: { email: 'r26e-reset@example.com' },
        },
      ],
    });
    const gatewayOps = await stack.dbs.payment.select().from(ops).where(and(like(ops.idempotencyKey, `%/${checkoutId}/%`)));
    const [row] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
    console.log(JSON.stringify({ money, ops: gatewayOps.map((o) => [o.operation, o.outcome]), row: { status: row?.status, failure: row?.failure } }));
    expect(gatewayOps.map((o) => o.operation)).not.toContain('refund');
    expect(money.action).toBe('none');
    expect(row?.status).not.toBe('failed');
  }, 180_000);
});
