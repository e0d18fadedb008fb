import { eq, sql } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { createActivities } from '../../activities';
import { holds, stock } from '../../db/schema/inventory';
import { outbox } from '../../db/schema/notification';
import { payments } from '../../db/schema/payment';
import { openCheckout } from '../../db/stores/checkouts';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Regression tests for the paths issue 13 found broken: a gateway reply lost after the side
 * effect, a failure after the 201, re-runs of the local steps with a changed cart.
 */
describe('money and stock under lost replies, late failures and re-runs (real stack)', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  });
  afterEach(() => gateway?.setFaults(null));
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  async function cartWith(lines: [string, number][], email?: string): Promise<string> {
    const cart = await stack.http('POST', '/carts', { body: email ? { email } : {} });
    for (const [sku, quantity] of lines) expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity } })).status).toBe(200);
    return cart.body.id as string;
  }

  const paymentOf = async (checkoutId: string) => (await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId)))[0];

  it('a capture that went through but whose reply was lost, then cancelled by support: refunded at the gateway, ledger = gateway, one email, the POST still replays its 201', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 800, onHand: 5 });
    const email = `lost-capture-${Date.now()}@example.com`;
    const cartId = await cartWith([[sku, 2]], email);
    // the capture happens at the gateway and every reply is lost, and the gateway cannot be asked
    // either (a capture it can confirm is finished as paid instead): past its retry budget it parks
    gateway.setFaults({ count: 1_000, mode: 'lost', operations: ['capture', 'lookup'] });
    const body = { cartId, email, paymentToken: 'tok_visa' };
    const placed = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'lost-capture' }, body });
    expect(placed.status).toBe(201);
    const { checkoutId, orderId } = placed.body as { checkoutId: string; orderId: string };
    const ref = (await eventually(() => paymentOf(checkoutId), 10_000, 'the authorization'))!.gatewayRef;
    await eventually(async () => ((await gateway.state(ref)).captured > 0 ? true : undefined), 10_000, 'the capture at the gateway');
    await eventually(async () => ((await stack.http('GET', `/orders/${orderId}`)).body.status === 'needs_attention' ? true : undefined), 60_000, 'parked');
    expect((await paymentOf(checkoutId))?.status).toBe('authorized'); // our ledger never heard of the capture

    // the cart stays locked while its checkout runs
    const edit = await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } });
    expect(edit.status).toBe(409);
    expect(edit.body.error).toMatchObject({ code: 'checkout_in_progress', details: { checkoutId } });

    gateway.setFaults(null);
    expect((await stack.http('POST', `/admin/orders/${orderId}/cancel`, { headers: admin, body: { reason: 'customer asked' } })).status).toBe(202);
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await handle.result();
    await recordHistory(handle, 'checkoutWorkflow', 'lost-capture-parked-then-cancelled');

    const atGateway = await gateway.state(ref);
    expect(atGateway).toMatchObject({ captured: 1600, refunded: 1600 });
    expect(await paymentOf(checkoutId)).toMatchObject({ status: 'refunded', capturedAmount: 1600, refundedAmount: 1600, refundPendingAmount: 0 });
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('cancelled');
    expect((await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0]).toMatchObject({ onHand: 5, reserved: 0, sold: 0 });

    const now = (await stack.http('GET', `/checkouts/${checkoutId}`)).body;
    expect(now).toMatchObject({ status: 'failed', orderId, failure: { code: 'checkout_cancelled' } });
    expect(now.failure.message).toMatch(/refunded/);
    expect(now.failure.message).not.toMatch(/nothing was charged/);
    const replay = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'lost-capture' }, body });
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(placed.body);

    const notices = await stack.dbs.notification.select().from(outbox).where(eq(outbox.idempotencyKey, `checkout-failed:${checkoutId}`));
    expect(notices).toEqual([expect.objectContaining({ status: 'sent', recipient: email })]);
    // and the cart is the customer's again
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
  }, 90_000);

  it('a capture whose reply was lost and whose retry is refused: the gateway says it was captured, so the order is paid, captured once', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 650, onHand: 2 });
    const cartId = await cartWith([[sku, 1]]);
    gateway.setFaults({ count: 1, mode: 'lost', operations: ['capture'] });
    const placed = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'lost-then-refused' }, body: { cartId, email: 'lr@example.com', paymentToken: 'tok_visa' } });
    expect(placed.status).toBe(201);
    const ref = (await eventually(() => paymentOf(placed.body.checkoutId), 10_000, 'the authorization'))!.gatewayRef;
    await eventually(async () => ((await gateway.state(ref)).captured > 0 ? true : undefined), 10_000, 'the capture at the gateway');
    gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['capture'] });
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    gateway.setFaults(null);
    expect((await stack.http('GET', `/orders/${placed.body.orderId}`)).body.status).toBe('paid');
    expect(await gateway.state(ref)).toMatchObject({ captured: 650, refunded: 0 });
    expect(await paymentOf(placed.body.checkoutId)).toMatchObject({ status: 'captured', capturedAmount: 650 });
  }, 60_000);

  it('a Temporal cancel (Web UI) after the 201 is recorded and ignored: the order is captured, paid and stays placed for the storefront', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 4 });
    const cartId = await cartWith([[sku, 1]]);
    gateway.setFaults({ count: 2, mode: '500', operations: ['capture'] });
    const body = { cartId, email: 'late-cancel@example.com', paymentToken: 'tok_visa' };
    const placed = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'late-cancel' }, body });
    expect(placed.status).toBe(201);
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await handle.cancel();
    expect(await handle.result()).toMatchObject({ status: 'placed', orderId: placed.body.orderId });
    await recordHistory(handle, 'checkoutWorkflow', 'cancel-requested-after-answer');
    const order = (await stack.http('GET', `/orders/${placed.body.orderId}`)).body;
    expect(order.status).toBe('paid');
    expect(order.events.map((e: { type: string }) => e.type)).toContain('cancel_request_ignored');
    expect((await stack.http('GET', `/checkouts/${placed.body.checkoutId}`)).body).toMatchObject({ status: 'placed' });
    expect((await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'late-cancel' }, body })).status).toBe(201);
    expect(await paymentOf(placed.body.checkoutId)).toMatchObject({ status: 'captured', capturedAmount: 700 });
    const described = await handle.describe();
    expect(described.searchAttributes.CheckoutStatus).toEqual(['paid']);
  }, 60_000);

  it('a checkout cancelled from the Web UI as it starts, then the cart checked out again with a new key: never a 5xx, one live checkout', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 300, onHand: 5 });
    const cartId = await cartWith([[sku, 1]]);
    const body = { cartId, email: 'again@example.com', paymentToken: 'tok_visa' };
    const first = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'first' }, body });
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await eventually(() => handle.cancel().then(() => true).catch(() => undefined), 10_000, 'the cancel request');
    const second = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'second' }, body });
    const answers = [(await first).status, second.status];
    expect(answers.every((s) => s < 500)).toBe(true);
    const again = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'third' }, body });
    expect(again.status).toBeLessThan(500);
  }, 60_000);

  it('an authorization whose reply was lost and then declined on retry is voided by compensation, found through the gateway', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 500, onHand: 3 });
    const cartId = await cartWith([[sku, 1]]);
    // authorize happens, its reply is lost; the retries are refused: the saga compensates
    gateway.setFaults({ count: 1, mode: 'lost', operations: ['authorize'] });
    // once the first call has happened (its reply lost), every retry is refused
    const refuseRetries = eventually(async () => {
      const done = await stack.dbs.payment.execute(sql`select 1 from local_gateway.operations where operation = 'authorize' and reference in (select checkout_id from orders.checkouts where cart_id = ${cartId})`);
      return done.rows.length > 0 ? gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['authorize'] }) ?? true : undefined;
    }, 30_000, 'the first authorization');
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'lost-auth' }, body: { cartId, email: 'a@example.com', paymentToken: 'tok_visa' } });
    await refuseRetries;
    expect(res.status).toBeGreaterThanOrEqual(400);
    const checkoutId = res.body.error.details.checkoutId as string;
    gateway.setFaults(null);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    const ops = await stack.dbs.payment.execute(sql`select operation, payment_ref from local_gateway.operations where idempotency_key like ${`%/${checkoutId}/%`} order by created_at`);
    const rows = ops.rows as { operation: string; payment_ref: string }[];
    expect(rows.map((r) => r.operation)).toEqual(['authorize', 'void']);
    const ref = rows[0]!.payment_ref;
    expect(await gateway.state(ref)).toMatchObject({ voided: true, captured: 0 });
    expect(await paymentOf(checkoutId)).toMatchObject({ gatewayRef: ref, status: 'voided' });
    expect((await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0]).toMatchObject({ reserved: 0 });
  }, 60_000);

  it('a re-run of the pricing step after the cart changed repeats the first decision; a hold asked again with other lines is refused', async () => {
    const a = await createProduct(stack.dbs, { priceAmount: 300, onHand: 10 });
    const b = await createProduct(stack.dbs, { priceAmount: 900, onHand: 10 });
    const cartId = await cartWith([[a, 2]]);
    const { checkout } = await openCheckout(stack.dbs.order, { cartId, idempotencyKey: 'rerun', requestHash: 'h', email: 'r@example.com', workflowId: `checkout-${cartId}` });
    const activities = createActivities(stack.activityDeps!);
    const first = await activities.freezeCart({ checkoutId: checkout.checkoutId, cartId });
    expect(first.total).toEqual({ amount: 600, currency: 'USD' });

    // the worker dies; meanwhile the cart changes (a quantity and a new SKU)
    await stack.activityDeps!.carts.setLine(cartId, a, 5);
    await stack.activityDeps!.carts.setLine(cartId, b, 1);
    const again = await activities.freezeCart({ checkoutId: checkout.checkoutId, cartId });
    expect(again).toEqual(first);

    const holdId = checkout.checkoutId;
    await activities.holdStock({ holdId, lines: [{ sku: a, quantity: 2 }] });
    await activities.holdStock({ holdId, lines: [{ sku: a, quantity: 2 }] }); // the same re-run: nothing more held
    await expect(activities.holdStock({ holdId, lines: [{ sku: a, quantity: 2 }, { sku: b, quantity: 1 }] })).rejects.toMatchObject({ type: 'hold_mismatch' });
    await expect(activities.holdStock({ holdId, lines: [{ sku: a, quantity: 5 }] })).rejects.toMatchObject({ type: 'hold_mismatch' });
    const reserved = await stack.dbs.inventory.select({ sku: stock.sku, reserved: stock.reserved }).from(stock).where(sql`${stock.sku} in (${a}, ${b})`);
    expect(Object.fromEntries(reserved.map((r) => [r.sku, r.reserved]))).toEqual({ [a]: 2, [b]: 0 });
    expect(await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, holdId))).toHaveLength(1);
  });
});
