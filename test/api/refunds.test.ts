import { and, eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { stock } from '../../db/schema/inventory';
import { localGatewayOperations, payments } from '../../db/schema/payment';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack, type Stack } from '../helpers/stack';

describe('refunds (real Temporal, Postgres, gateway ledger)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A paid order of `lines` (sku → [unit price, quantity]); returns its id and skus. */
  async function paidOrder(lines: [number, number][], email = `refund-${Date.now()}-${Math.random()}@example.com`) {
    const skus: string[] = [];
    const cart = await stack.http('POST', '/carts', { body: {} });
    for (const [price, quantity] of lines) {
      const sku = await createProduct(stack.dbs, { priceAmount: price, onHand: 50 });
      skus.push(sku);
      await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity } });
    }
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'buy' }, body: { cartId: cart.body.id, email, paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    await stack.temporal.workflow.getHandle(`checkout-${cart.body.id}`).result();
    return { orderId: res.body.orderId as string, checkoutId: res.body.checkoutId as string, skus, email };
  }

  const refund = (orderId: string, key: string, body: unknown) =>
    stack.http('POST', `/orders/${orderId}/refunds`, { headers: { 'Idempotency-Key': key }, body });
  const order = async (orderId: string) => (await stack.http('GET', `/orders/${orderId}`)).body;
  const gatewayRefunds = async (checkoutId: string) => {
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    return stack.dbs.payment
      .select()
      .from(localGatewayOperations)
      .where(and(eq(localGatewayOperations.paymentRef, payment?.gatewayRef ?? ''), eq(localGatewayOperations.operation, 'refund')));
  };

  it('a full refund returns everything, marks the order refunded and emails the customer', async () => {
    const { orderId, email } = await paidOrder([[1500, 2]]);
    const res = await refund(orderId, 'full', { reason: 'damaged' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ orderId, status: 'succeeded', amount: { amount: 3000, currency: 'USD' } });
    await recordHistory(stack.temporal.workflow.getHandle(`refund-${res.body.refundId}`), 'refundWorkflow', 'full');
    const o = await order(orderId);
    expect(o.status).toBe('refunded');
    expect(o.payment).toMatchObject({ captured: { amount: 3000 }, refunded: { amount: 3000 } });
    expect(o.events.map((e: { type: string }) => e.type)).toEqual(['order_placed', 'order_paid', 'order_refunded']);
    const listed = await stack.http('GET', `/orders/${orderId}/refunds`);
    expect(listed.body.items).toHaveLength(1);
    const mail = (await (await fetch(`${process.env.MAIL_UI_URL}/messages`)).json()) as { to: string[]; subject: string }[];
    expect(mail.filter((m) => m.to.includes(email) && m.subject.startsWith('Your refund'))).toHaveLength(1);
  });

  it('partial by amount, then per line with restock: amounts, status, stock and history add up', async () => {
    const { orderId, skus } = await paidOrder([[1000, 3], [250, 4]]);
    const partial = await refund(orderId, 'p1', { amount: { amount: 700, currency: 'USD' }, reason: 'late' });
    expect(partial.body).toMatchObject({ status: 'succeeded', amount: { amount: 700 } });
    expect((await order(orderId)).status).toBe('partially_refunded');

    const [a] = skus as [string];
    const before = (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, a)))[0];
    const byLine = await refund(orderId, 'p2', { lines: [{ sku: a, quantity: 2 }], restock: true, reason: 'returned' });
    expect(byLine.body).toMatchObject({ status: 'succeeded', amount: { amount: 2000 }, restock: true });
    const after = (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, a)))[0];
    expect(after?.onHand).toBe((before?.onHand ?? 0) + 2);

    const o = await order(orderId);
    expect(o.payment.refunded.amount).toBe(2700);
    expect(o.status).toBe('partially_refunded');
    expect(o.events.filter((e: { type: string }) => e.type === 'order_partially_refunded')).toHaveLength(2);

    // restock is exactly once, even when the activity runs again
    const activities = createActivities(stack.activityDeps as NonNullable<Stack['activityDeps']>);
    expect(await activities.restockRefund({ refundId: byLine.body.refundId, lines: [{ sku: a, quantity: 2 }] })).toEqual({ returned: 0 });
    expect((await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, a)))[0]?.onHand).toBe(after?.onHand);
  });

  it('the same Idempotency-Key twice makes one refund with one answer; a changed body is refused', async () => {
    const { orderId, checkoutId } = await paidOrder([[1000, 1]]);
    const first = await refund(orderId, 'dup', { amount: { amount: 300, currency: 'USD' }, reason: 'x' });
    const second = await refund(orderId, 'dup', { amount: { amount: 300, currency: 'USD' }, reason: 'x' });
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect((await stack.http('GET', `/orders/${orderId}/refunds`)).body.items).toHaveLength(1);
    expect(await gatewayRefunds(checkoutId)).toHaveLength(1);
    const changed = await refund(orderId, 'dup', { amount: { amount: 400, currency: 'USD' }, reason: 'x' });
    expect(changed.status).toBe(422);
    expect(changed.body.error.code).toBe('idempotency_key_reused');
  });

  it('20 concurrent refunds of 10 % each: exactly 10 succeed, 10 get refund_exceeds_captured, the gateway is called 10 times', async () => {
    const { orderId, checkoutId } = await paidOrder([[1000, 10]]);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => refund(orderId, `ten-${i}`, { amount: { amount: 1000, currency: 'USD' }, reason: 'split' })),
    );
    // accepted ones answer 201 (done within the wait) or 202 (still running): both are fine
    const accepted = answers.filter((a) => a.status === 201 || a.status === 202);
    expect(accepted).toHaveLength(10);
    const deadline = Date.now() + 60_000;
    let listed = (await stack.http('GET', `/orders/${orderId}/refunds`)).body.items as { status: string }[];
    while (listed.some((r) => r.status === 'pending') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      listed = (await stack.http('GET', `/orders/${orderId}/refunds`)).body.items;
    }
    expect(listed.map((r) => r.status)).toEqual(Array(10).fill('succeeded'));
    const refused = answers.filter((a) => a.status === 422);
    expect(refused).toHaveLength(10);
    for (const r of refused) expect(r.body.error.code).toBe('refund_exceeds_captured');
    const o = await order(orderId);
    expect(o.payment.refunded.amount).toBe(10_000);
    expect(o.status).toBe('refunded');
    expect(await gatewayRefunds(checkoutId)).toHaveLength(10);
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    expect(payment).toMatchObject({ refundPendingAmount: 0, refundedAmount: 10_000, status: 'refunded' });
  });

  it('a refund larger than what is left reserves nothing and calls no gateway', async () => {
    const { orderId, checkoutId } = await paidOrder([[1000, 1]]);
    const res = await refund(orderId, 'big', { amount: { amount: 1001, currency: 'USD' }, reason: 'x' });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'refund_exceeds_captured', details: { refundable: { amount: 1000, currency: 'USD' } } });
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    expect(payment?.refundPendingAmount).toBe(0);
    expect(await gatewayRefunds(checkoutId)).toHaveLength(0);
  });

  describe('bad input → 4xx, nothing written', () => {
    let orderId: string;
    let sku: string;
    beforeAll(async () => {
      const o = await paidOrder([[1000, 2]]);
      orderId = o.orderId;
      sku = o.skus[0] as string;
    });
    it.each<[string, number, string, () => { key?: string; body: unknown; path?: string }]>([
      ['missing Idempotency-Key', 400, 'idempotency_key_required', () => ({ key: '', body: { reason: 'x' } })],
      ['missing reason', 400, 'invalid_request', () => ({ body: {} })],
      ['amount and lines together', 400, 'invalid_request', () => ({ body: { reason: 'x', amount: { amount: 1, currency: 'USD' }, lines: [{ sku, quantity: 1 }] } })],
      ['a float amount', 400, 'invalid_request', () => ({ body: { reason: 'x', amount: { amount: 1.5, currency: 'USD' } } })],
      ['a zero amount', 400, 'invalid_request', () => ({ body: { reason: 'x', amount: { amount: 0, currency: 'USD' } } })],
      ['another currency', 400, 'invalid_request', () => ({ body: { reason: 'x', amount: { amount: 100, currency: 'EUR' } } })],
      ['a line not in the order', 400, 'invalid_request', () => ({ body: { reason: 'x', lines: [{ sku: 'NOT-IN-ORDER', quantity: 1 }] } })],
      ['more units than ordered', 400, 'invalid_request', () => ({ body: { reason: 'x', lines: [{ sku, quantity: 3 }] } })],
      ['an unknown order', 404, 'not_found', () => ({ body: { reason: 'x' }, path: '/orders/ord_unknown/refunds' })],
    ])('%s → %i %s', async (_n, status, code, make) => {
      const req = make();
      const headers: Record<string, string> = req.key === '' ? {} : { 'Idempotency-Key': `bad-${Math.random()}` };
      const res = await stack.http('POST', req.path ?? `/orders/${orderId}/refunds`, { headers, body: req.body });
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect((await stack.http('GET', `/orders/${orderId}/refunds`)).body.items).toEqual([]);
    });
  });
});
