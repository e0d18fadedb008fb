import { eq } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { stock } from '../../db/schema/inventory';
import { payments } from '../../db/schema/payment';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack, type Stack } from '../helpers/stack';

describe('support: parked checkouts, retry and cancel', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  });
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  async function parkedCheckout() {
    const sku = await createProduct(stack.dbs, { priceAmount: 800, onHand: 5 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } });
    gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['capture'] });
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'park' }, body: { cartId, email: 'parked@example.com', paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    const orderId = res.body.orderId as string;
    // support finds it by search attribute, through the visibility (list) API
    const deadline = Date.now() + 30_000;
    let found: string[] = [];
    while (Date.now() < deadline && found.length === 0) {
      found = [];
      for await (const wf of stack.temporal.workflow.list({ query: `CheckoutStatus = "needs_attention" AND CartId = "${cartId}"` })) found.push(wf.workflowId);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(found).toEqual([`checkout-${cartId}`]);
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('needs_attention');
    return { sku, cartId, orderId, checkoutId: res.body.checkoutId as string };
  }

  it('a refused capture parks the checkout; after the fault is cleared, a retry completes it', async () => {
    const { sku, cartId, orderId } = await parkedCheckout();
    gateway.setFaults(null);
    const retry = await stack.http('POST', `/admin/orders/${orderId}/retry`, { headers: admin });
    expect(retry.status).toBe(202);
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await handle.result();
    await recordHistory(handle, 'checkoutWorkflow', 'local-after-capture-parked-then-retried');
    const order = (await stack.http('GET', `/orders/${orderId}`)).body;
    expect(order.status).toBe('paid');
    expect(order.events.map((e: { type: string }) => e.type)).toEqual(['order_placed', 'order_needs_attention', 'support_retry', 'order_placed', 'order_paid']);
    expect((await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0]).toMatchObject({ onHand: 3, reserved: 0, sold: 2 });
  });

  it('a cancel voids the authorization, releases the stock and cancels the order', async () => {
    const { sku, cartId, orderId, checkoutId } = await parkedCheckout();
    const cancel = await stack.http('POST', `/admin/orders/${orderId}/cancel`, { headers: admin, body: { reason: 'customer asked' } });
    expect(cancel.status).toBe(202);
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    const outcome = await handle.result();
    await recordHistory(handle, 'checkoutWorkflow', 'local-after-capture-parked-then-cancelled');
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    gateway.setFaults(null);
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('cancelled');
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    expect(payment).toMatchObject({ status: 'voided', capturedAmount: 0 });
    expect((await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0]).toMatchObject({ onHand: 5, reserved: 0, sold: 0 });
  });

  it('admin routes refuse a missing or wrong credential, and an order that is not parked', async () => {
    expect((await stack.http('POST', '/admin/orders/ord_x/retry')).status).toBe(401);
    expect((await stack.http('POST', '/admin/orders/ord_x/cancel', { headers: { Authorization: 'Bearer wrong' }, body: { reason: 'x' } })).status).toBe(403);
    expect((await stack.http('POST', '/admin/orders/ord_unknown/retry', { headers: admin })).status).toBe(404);

    const sku = await createProduct(stack.dbs);
    const cart = await stack.http('POST', '/carts', { body: {} });
    await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 1 } });
    const placed = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'np' }, body: { cartId: cart.body.id, email: 'np@example.com', paymentToken: 'tok_visa' } });
    await stack.temporal.workflow.getHandle(`checkout-${cart.body.id}`).result();
    const res = await stack.http('POST', `/admin/orders/${placed.body.orderId}/retry`, { headers: admin });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('order_not_parked');
  });

  it('an order id is the only key to an order: an unknown one is a 404, not another customer\u2019s data', async () => {
    const res = await stack.http('GET', '/orders/ord_AAAAAAAAAAAAAAAAAAAAAA');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});
