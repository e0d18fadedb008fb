import { refundWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/** What the Web UI shows on a workflow's page: its user metadata and the current details (the SDK's metadata query). */
async function webUiView(stack: Stack, workflowId: string) {
  const handle = stack.temporal.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return { summary: await description.staticSummary(), details: await description.staticDetails(), current: metadata.currentDetails ?? '' };
}

describe('Web UI user metadata: support reads where a checkout or refund stands without opening the history', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '60000', REFUND_WAIT_MS: '60000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a checkout and its refund carry a readable summary and details; the refund shows its current step', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1800, onHand: 10 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 3 } })).status).toBe(200);
    const placed = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'ui-1' },
      body: { cartId, email: 'ui@example.com', paymentToken: 'tok_visa', customerId: 'cust-ui', expectedTotal: { amount: 5400, currency: 'USD' } },
    });
    if (placed.status !== 201) throw new Error(JSON.stringify(placed.body));
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();

    const checkout = await webUiView(stack, `checkout-${cartId}`);
    expect(checkout.summary).toMatch(new RegExp(`^Checkout of (3 items|cart ${cartId}), 54\\.00 USD$`));
    expect(checkout.details).toContain(`**Checkout:** ${placed.body.checkoutId}`);
    expect(checkout.details).toContain('**Customer:** cust-ui');
    // No payment token, no email in what every Web UI user reads.
    expect(`${checkout.summary} ${checkout.details}`).not.toMatch(/tok_visa|ui@example\.com/);

    const refund = await stack.http('POST', `/orders/${placed.body.orderId}/refunds`, {
      headers: { 'Idempotency-Key': 'ui-refund-1', Authorization: `Bearer ${stack.config.adminApiToken}` },
      body: { reason: 'the customer changed their mind' },
    });
    expect(refund.status).toBe(201);
    const refundView = await eventually(async () => {
      const view = await webUiView(stack, refundWorkflowId(refund.body.refundId));
      return view.current.includes('succeeded') ? view : undefined;
    }, 15_000, "the refund's current details");
    expect(refundView.summary).toBe(`Refund of 54.00 USD on order ${placed.body.orderId}`);
    expect(refundView.details).toContain(`**Refund:** ${refund.body.refundId}`);
    expect(refundView.details).toContain(`${sku} × 3`);
    expect(refundView.current).toContain('**Step:** succeeded');
  });
});
