import { and, eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { restocks, stock } from '../../db/schema/inventory';
import { orderEvents } from '../../db/schema/order';
import { payments, refunds } from '../../db/schema/payment';
import { releaseHold, restock } from '../../db/stores/holds';
import { transitionOrder } from '../../db/stores/orders';
import { syncPaymentFromGateway } from '../../db/stores/payments';
import { checkoutStatusQuery, refundStatusQuery, retrySignal } from '../../workflows/messages';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Refunds at the edges of the order lifecycle and of the ledger: an order whose sale was never
 * committed (parked after its capture, its unit sold to someone else), an order that moved on
 * while a refund was in flight, and a ledger corrected from the gateway while a refund was
 * parked. Found by an adversarial review; each test failed on the code before the fix.
 */
describe('refund edges (real stack)', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  const started: string[] = [];
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  });
  afterEach(() => gateway?.setFaults(null));
  afterAll(async () => {
    gateway?.setFaults(null);
    // a workflow a failing run left retrying: end it (ours, on our task queue)
    for (const id of started) await stack.temporal.workflow.getHandle(id).terminate('test cleanup').catch(() => undefined);
    await stack?.close();
  });

  async function cartWith(lines: [string, number][]): Promise<string> {
    const cart = await stack.http('POST', '/carts', { body: {} });
    for (const [sku, quantity] of lines) expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity } })).status).toBe(200);
    return cart.body.id as string;
  }
  const stockOf = async (sku: string) => {
    const [row] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    return { onHand: row!.onHand, reserved: row!.reserved, sold: row!.sold };
  };
  const paymentOf = async (checkoutId: string) => (await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId)))[0]!;
  const ledgerOf = async (checkoutId: string) => {
    const p = await paymentOf(checkoutId);
    return { refunded: p.refundedAmount, pending: p.refundPendingAmount };
  };
  const orderStatus = async (orderId: string) => (await stack.http('GET', `/orders/${orderId}`)).body.status as string;
  const refund = (orderId: string, key: string, body: unknown) =>
    stack.http('POST', `/orders/${orderId}/refunds`, { headers: { ...admin, 'Idempotency-Key': key }, body });
  /** What the ledger correction does (reconciliation, support's cancel): the ledger := the gateway. */
  const syncLedger = async (checkoutId: string) => {
    const view = await gateway.lookupPayment((await paymentOf(checkoutId)).gatewayRef);
    await syncPaymentFromGateway(stack.dbs.payment, checkoutId, gateway.name, view!);
  };

  async function paidOrder(priceAmount: number, tag: string) {
    const sku = await createProduct(stack.dbs, { priceAmount, onHand: 5 });
    const cart = await cartWith([[sku, 1]]);
    started.push(`checkout-${cart}`);
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': tag }, body: { cartId: cart, email: 'p@example.com', paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    await stack.temporal.workflow.getHandle(`checkout-${cart}`).result();
    return { sku, orderId: res.body.orderId as string, checkoutId: res.body.checkoutId as string };
  }

  /** One unit of a product; checkout A captured and parked at commitStock; checkout B bought the unit. */
  async function parkedAfterCapture(priceAmount: number, tag: string) {
    const sku = await createProduct(stack.dbs, { priceAmount, onHand: 1 });
    const cartA = await cartWith([[sku, 1]]);
    started.push(`checkout-${cartA}`);
    gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['capture'] });
    const a = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `${tag}-a` }, body: { cartId: cartA, email: 'a@example.com', paymentToken: 'tok_visa' } });
    expect(a.status).toBe(201);
    const { checkoutId, orderId } = a.body as { checkoutId: string; orderId: string };
    await eventually(async () => ((await orderStatus(orderId)) === 'needs_attention' ? true : undefined), 30_000, 'A parked at capture');
    gateway.setFaults(null);

    // while parked, A's hold passes its TTL and the sweep expires it (what releaseExpiredHolds does for it)
    await releaseHold(stack.dbs.inventory, checkoutId, 'expired');
    // the unit is sold to B
    const cartB = await cartWith([[sku, 1]]);
    started.push(`checkout-${cartB}`);
    const b = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `${tag}-b` }, body: { cartId: cartB, email: 'b@example.com', paymentToken: 'tok_visa' } });
    expect(b.status).toBe(201);
    await eventually(async () => ((await orderStatus(b.body.orderId)) === 'paid' ? true : undefined), 30_000, 'B paid');
    expect(await stockOf(sku)).toEqual({ onHand: 0, reserved: 0, sold: 1 });

    // support retries A: the capture goes through, the stock commit finds nothing: parked again
    expect((await stack.http('POST', `/admin/orders/${orderId}/retry`, { headers: admin })).status).toBe(202);
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartA}`);
    await eventually(
      async () => {
        const view = await handle.query(checkoutStatusQuery);
        // the workflow parks first, then its onPark activity moves the order: wait for both
        return view.step === 'needs_attention' && /out_of_stock/.test(view.lastError ?? '') && (await orderStatus(orderId)) === 'needs_attention' ? true : undefined;
      },
      30_000,
      'A parked at commitStock',
    );
    expect(await paymentOf(checkoutId)).toMatchObject({ status: 'captured', capturedAmount: priceAmount });
    return { sku, cartA, checkoutId, orderId, handle };
  }

  /** A money refund of `amount` that the gateway makes but whose reply is lost; its retries are refused: it parks. */
  async function parkedLostRefund(orderId: string, checkoutId: string, amount: number, key: string) {
    gateway.setFaults({ mode: 'lost', count: 1, operations: ['refund'] });
    const answer = refund(orderId, key, { reason: 'goodwill', amount: { amount, currency: 'USD' } });
    const refundId = await eventually(
      async () => (await stack.dbs.payment.select().from(refunds).where(and(eq(refunds.orderId, orderId), eq(refunds.idempotencyKey, key))))[0]?.id,
      10_000,
      'refund opened',
    );
    started.push(`refund-${refundId}`);
    await eventually(async () => ((await gateway.state((await paymentOf(checkoutId)).gatewayRef)).refunded >= amount ? true : undefined), 10_000, 'the gateway refund');
    gateway.setFaults({ mode: 'reject', count: 1_000, operations: ['refund'] });
    const handle = stack.temporal.workflow.getHandle(`refund-${refundId}`);
    await eventually(async () => ((await handle.query(refundStatusQuery)).step === 'needs_attention' ? true : undefined), 30_000, 'refund parked');
    gateway.setFaults(null);
    return { refundId, handle, answer };
  }

  /** Where a refund stands a while after support's retry (a workflow stuck retrying shows its activity). */
  async function afterRetry(refundId: string, checkoutId: string) {
    const handle = stack.temporal.workflow.getHandle(`refund-${refundId}`);
    await handle.signal(retrySignal);
    const deadline = Date.now() + 15_000;
    let run = await handle.describe();
    while (run.status.name === 'RUNNING' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      run = await handle.describe();
    }
    const pending = run.raw.pendingActivities?.[0];
    const [refundRow] = await stack.dbs.payment.select().from(refunds).where(eq(refunds.id, refundId));
    return {
      gateway: await gateway.state((await paymentOf(checkoutId)).gatewayRef),
      ledger: await ledgerOf(checkoutId),
      refundStatus: refundRow!.status,
      refundWorkflow: run.status.name,
      stuckOn: pending ? `${pending.activityType?.name} attempt ${pending.attempt}: ${pending.lastFailure?.message}` : null,
    };
  }

  it('an order parked after its capture (its sale never committed) is not refundable: 409 order_not_refundable, nothing restocked; support cancels it, the money goes back and the stock stays as sold', async () => {
    const { sku, orderId, checkoutId, handle } = await parkedAfterCapture(1000, 'edge-restock');
    const res = await refund(orderId, 'edge-restock-refund', { reason: 'we cannot ship it', restock: true });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'order_not_refundable', details: { status: 'needs_attention' } });
    expect(await stack.dbs.payment.select().from(refunds).where(eq(refunds.orderId, orderId))).toEqual([]);
    expect(await ledgerOf(checkoutId)).toEqual({ refunded: 0, pending: 0 });

    // the way out for support: cancel the parked checkout, which returns the money
    expect((await stack.http('POST', `/admin/orders/${orderId}/cancel`, { headers: admin, body: { reason: 'no stock' } })).status).toBe(202);
    await handle.result();
    // a third customer tries to buy the unit that B took
    const cartC = await cartWith([[sku, 1]]);
    started.push(`checkout-${cartC}`);
    const c = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'edge-restock-c' }, body: { cartId: cartC, email: 'c@example.com', paymentToken: 'tok_visa' } });
    expect({
      stock: await stockOf(sku),
      thirdCustomer: c.status,
      gateway: await gateway.state((await paymentOf(checkoutId)).gatewayRef),
      ledger: await ledgerOf(checkoutId),
      order: await orderStatus(orderId),
    }).toEqual({
      stock: { onHand: 0, reserved: 0, sold: 1 },
      thirdCustomer: 409,
      gateway: expect.objectContaining({ captured: 1000, refunded: 1000 }),
      ledger: { refunded: 1000, pending: 0 },
      order: 'cancelled',
    });
  }, 150_000);

  it('a restock gives back only units that were sold: more than sold fails loudly and changes nothing', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 100, onHand: 1 });
    const restockId = `edge-restock-unsold-${sku}`;
    await expect(restock(stack.dbs.inventory, restockId, [{ sku, quantity: 1 }])).rejects.toThrow();
    expect(await stockOf(sku)).toEqual({ onHand: 1, reserved: 0, sold: 0 });
    expect(await stack.dbs.inventory.select().from(restocks).where(eq(restocks.restockId, restockId))).toEqual([]);
  });

  it('a refund recorded after its order moved to a status that cannot become refunded keeps the status and notes the refund in the history, once', async () => {
    const { orderId } = await paidOrder(800, 'edge-moved');
    // reconciliation flags the order while a refund is in flight
    await transitionOrder(stack.dbs.order, orderId, 'needs_attention', 'reconciliation: mismatch');
    const activities = createActivities(stack.activityDeps as NonNullable<Stack['activityDeps']>);
    await expect(activities.markOrderRefunded({ orderId, refundId: 'rfd_edge', fullyRefunded: true })).resolves.toBeUndefined();
    await expect(activities.markOrderRefunded({ orderId, refundId: 'rfd_edge', fullyRefunded: true })).resolves.toBeUndefined();
    expect(await orderStatus(orderId)).toBe('needs_attention');
    const notes = await stack.dbs.order.select().from(orderEvents).where(and(eq(orderEvents.orderId, orderId), eq(orderEvents.type, 'refund_recorded')));
    expect(notes.map((n) => n.reason)).toEqual(['refund rfd_edge succeeded; the order stays needs_attention (it cannot become refunded)']);
  });

  it('a parked refund recorded after the rest was refunded and the ledger corrected from the gateway: nothing goes negative, ledger = gateway, it succeeds and the order is refunded', async () => {
    const { orderId, checkoutId } = await paidOrder(1000, 'edge-rest');
    const { refundId, answer } = await parkedLostRefund(orderId, checkoutId, 400, 'edge-rest-400');
    // the rest (600) is refunded by a second refund, then the ledger is corrected from the gateway
    const rest = await refund(orderId, 'edge-rest-600', { reason: 'the rest' });
    expect(rest.status).toBe(201);
    expect(rest.body).toMatchObject({ status: 'succeeded', amount: { amount: 600 } });
    await syncLedger(checkoutId);
    expect(await ledgerOf(checkoutId)).toEqual({ refunded: 1000, pending: 0 });

    expect(await afterRetry(refundId, checkoutId)).toEqual({
      gateway: expect.objectContaining({ captured: 1000, refunded: 1000 }),
      ledger: { refunded: 1000, pending: 0 },
      refundStatus: 'succeeded',
      refundWorkflow: 'COMPLETED',
      stuckOn: null,
    });
    expect(await paymentOf(checkoutId)).toMatchObject({ status: 'refunded' });
    expect(await orderStatus(orderId)).toBe('refunded');
    await answer;
  }, 120_000);

  it('a parked refund the ledger already counted (corrected from the gateway) is not counted twice when it is recorded', async () => {
    const { orderId, checkoutId } = await paidOrder(1000, 'edge-twice');
    const { refundId, answer } = await parkedLostRefund(orderId, checkoutId, 400, 'edge-twice-400');
    await syncLedger(checkoutId);
    expect(await ledgerOf(checkoutId)).toEqual({ refunded: 400, pending: 400 });

    expect(await afterRetry(refundId, checkoutId)).toEqual({
      gateway: expect.objectContaining({ captured: 1000, refunded: 400 }),
      ledger: { refunded: 400, pending: 0 },
      refundStatus: 'succeeded',
      refundWorkflow: 'COMPLETED',
      stuckOn: null,
    });
    expect(await paymentOf(checkoutId)).toMatchObject({ status: 'partially_refunded' });
    expect(await orderStatus(orderId)).toBe('partially_refunded');
    await answer;
  }, 120_000);
});
