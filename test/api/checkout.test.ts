import { WorkflowNotFoundError } from '@temporalio/client';
import { and, eq, like, sql } from 'drizzle-orm';
import { stock } from '../../db/schema/inventory';
import { checkouts, orders } from '../../db/schema/order';
import { localGatewayOperations, payments } from '../../db/schema/payment';
import { outbox } from '../../db/schema/notification';
import { holds } from '../../db/schema/inventory';
import { recordHistory } from '../helpers/histories';
import { caughtMail } from '../helpers/mail';
import { createProduct, startStack, type Stack } from '../helpers/stack';

describe('POST /checkouts (real Temporal, Postgres, Redis, SMTP)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function cartWith(lines: [string, number][], email?: string): Promise<string> {
    const cart = await stack.http('POST', '/carts', { body: email ? { email } : {} });
    for (const [sku, quantity] of lines) {
      const res = await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity } });
      expect(res.status).toBe(200);
    }
    return cart.body.id as string;
  }

  const checkout = (cartId: string, key: string, extra: Record<string, unknown> = {}) =>
    stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': key },
      body: { cartId, email: 'buyer@example.com', paymentToken: 'tok_visa', ...extra },
    });

  const stockOf = async (sku: string) => (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0];
  const authorizations = async (checkoutId: string) =>
    stack.dbs.payment
      .select()
      .from(localGatewayOperations)
      .where(and(eq(localGatewayOperations.operation, 'authorize'), like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`)));

  it('places the order, captures the payment, sells the stock, clears the cart and emails the customer', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1999, onHand: 10 });
    const cartId = await cartWith([[sku, 2]]);
    const email = `happy-${Date.now()}@example.com`;
    const res = await checkout(cartId, 'happy-1', { email, expectedTotal: { amount: 3998, currency: 'USD' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'placed', total: { amount: 3998, currency: 'USD' }, statusUrl: `/checkouts/${res.body.checkoutId}` });

    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await handle.result();
    await recordHistory(handle, 'checkoutWorkflow', 'placed');

    const order = await stack.http('GET', `/orders/${res.body.orderId}`);
    expect(order.body).toMatchObject({
      status: 'paid',
      total: { amount: 3998, currency: 'USD' },
      payment: { authorized: { amount: 3998 }, captured: { amount: 3998 }, refunded: { amount: 0 } },
    });
    expect(order.body.events.map((e: { type: string }) => e.type)).toEqual(['order_placed', 'order_paid']);
    expect(await stockOf(sku)).toMatchObject({ onHand: 8, reserved: 0, sold: 2 });
    expect((await stack.http('GET', `/carts/${cartId}`)).body.lines).toEqual([]);
    expect((await stack.http('GET', `/checkouts/${res.body.checkoutId}`)).body).toMatchObject({ status: 'placed', orderId: res.body.orderId });

    const mail = await caughtMail();
    const mine = mail.filter((m) => m.to.includes(email));
    expect(mine).toHaveLength(1);
    expect(mine[0]?.subject).toContain(res.body.orderId);
    expect(mine[0]?.text).toContain('39.98 USD');
  });

  it('when the card is declined: 402 with the decline code, stock released, no order, nothing charged', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 3 });
    const cartId = await cartWith([[sku, 3]]);
    const res = await checkout(cartId, 'declined-1', { paymentToken: 'tok_chargeDeclined' });
    expect(res.status).toBe(402);
    expect(res.body.error).toMatchObject({ code: 'payment_declined', details: { declineCode: 'card_declined', checkoutId: expect.any(String) } });
    const checkoutId = res.body.error.details.checkoutId as string;
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await handle.result();
    await recordHistory(handle, 'checkoutWorkflow', 'declined');

    expect(await stockOf(sku)).toMatchObject({ onHand: 3, reserved: 0, sold: 0 });
    expect(await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId))).toEqual([]);
    expect(await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId))).toEqual([]);
    // the same request again: the same answer, from the stored checkout
    const again = await checkout(cartId, 'declined-1', { paymentToken: 'tok_chargeDeclined' });
    expect(again.status).toBe(402);
    expect(again.body).toEqual(res.body);
    // the cart is untouched, so a second attempt with another card succeeds
    expect((await checkout(cartId, 'declined-2')).status).toBe(201);
  });

  it('when an expected total is stale: 409 price_changed with the new lines, nothing held', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 500, onHand: 5 });
    const cartId = await cartWith([[sku, 1]]);
    const res = await checkout(cartId, 'stale-1', { expectedTotal: { amount: 400, currency: 'USD' } });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'price_changed', details: { total: { amount: 500, currency: 'USD' }, lines: [expect.objectContaining({ sku })] } });
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    expect(await stockOf(sku)).toMatchObject({ reserved: 0, sold: 0 });
    // (its admission hold, released by the compensation)
    const held = await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, res.body.error.details.checkoutId));
    expect(held.filter((h) => h.status === 'held')).toEqual([]);
  });

  it('50 concurrent POSTs with one key → one order, one authorization, 50 identical answers', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 10 });
    const cartId = await cartWith([[sku, 1]]);
    const answers = await Promise.all(Array.from({ length: 50 }, () => checkout(cartId, 'same-key')));
    const statuses = new Set(answers.map((a) => a.status));
    expect([...statuses]).toEqual([201]);
    const first = answers[0]?.body;
    for (const a of answers) expect(a.body).toEqual(first);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    expect(await stack.dbs.order.select().from(orders).where(eq(orders.cartId, cartId))).toHaveLength(1);
    expect(await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId))).toHaveLength(1);
    expect(await authorizations(first.checkoutId)).toHaveLength(1);
    expect(await stockOf(sku)).toMatchObject({ onHand: 9, reserved: 0, sold: 1 });
    // later, after the workflow closed: still the same answer; a changed body is refused
    expect((await checkout(cartId, 'same-key')).body).toEqual(first);
    const reused = await checkout(cartId, 'same-key', { email: 'other@example.com' });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
  });

  it('one SKU with stock 5 and 40 concurrent checkouts of different carts → exactly 5 placed, 35 out_of_stock', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 5 });
    const carts = await Promise.all(Array.from({ length: 40 }, () => cartWith([[sku, 1]])));
    const answers = await Promise.all(carts.map((cartId, i) => checkout(cartId, `flash-${i}`)));
    const placed = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 409);
    expect(placed).toHaveLength(5);
    expect(refused).toHaveLength(35);
    for (const r of refused) {
      expect(r.body.error).toMatchObject({ code: 'out_of_stock', details: { items: [{ sku, requested: 1, available: expect.any(Number) }] } });
    }
    // a loser is refused by the pre-check or the admission hold: no run; every winner's run ends
    for (const [i, a] of answers.entries()) {
      const handle = stack.temporal.workflow.getHandle(`checkout-${carts[i]}`);
      if (a.status === 201) await handle.result();
      else await expect(handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    }
    expect(await stockOf(sku)).toMatchObject({ onHand: 0, reserved: 0, sold: 5 });
  });

  it('lines of the same SKU are summed before holding', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 3 });
    const cartId = await cartWith([[sku, 2]]);
    // a cart stores one line per SKU; a checkout of 4 units against 3 in stock must fail whole
    await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 4 } });
    const res = await checkout(cartId, 'sum-1');
    expect(res.status).toBe(409);
    expect(res.body.error.details.items).toEqual([{ sku, requested: 4, available: 3 }]);
  });

  it('tok_timeout: the gateway authorizes but answers late; the retry finds the same authorization, and a second checkout of the cart gets 409', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 5 });
    const cartId = await cartWith([[sku, 1]]);
    const pending = checkout(cartId, 'slow-1', { paymentToken: 'tok_timeout' });
    // once its workflow runs (not before: the first to start would win), another key for
    // the same cart is a second checkout: refused
    for (let i = 0; i < 100; i++) {
      const started = await stack.temporal.workflow
        .getHandle(`checkout-${cartId}`)
        .describe()
        .then(() => true)
        .catch(() => false);
      if (started) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    let other;
    for (let i = 0; i < 50; i++) {
      other = await checkout(cartId, 'slow-2', { paymentToken: 'tok_timeout' });
      if (other.status === 409) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(other?.status).toBe(409);
    expect(other?.body.error.code).toBe('checkout_in_progress');

    const first = await pending;
    expect([201, 202]).toContain(first.status);
    const checkoutId = first.body.checkoutId as string;
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    const status = await stack.http('GET', `/checkouts/${checkoutId}`);
    expect(status.body.status).toBe('placed');
    expect(await authorizations(checkoutId)).toHaveLength(1);
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    expect(payment).toMatchObject({ status: 'captured', capturedAmount: 1000 });
  }, 90_000);

  describe('bad input: 4xx, no workflow started, nothing written', () => {
    let cartId: string;
    let emptyCartId: string;
    beforeAll(async () => {
      cartId = await cartWith([[await createProduct(stack.dbs), 1]]);
      emptyCartId = (await stack.http('POST', '/carts', { body: {} })).body.id;
    });

    const cases: [string, number, string, () => { headers?: Record<string, string>; body?: unknown; rawBody?: string }][] = [
      ['missing Idempotency-Key', 400, 'idempotency_key_required', () => ({ body: { cartId, email: 'a@b.co', paymentToken: 'tok_visa' } })],
      ['a card number instead of a token', 400, 'invalid_request', () => ({ body: { cartId, email: 'a@b.co', paymentToken: '4242424242424242' } })],
      ['a token with spaces', 400, 'invalid_request', () => ({ body: { cartId, email: 'a@b.co', paymentToken: 'tok visa' } })],
      ['an empty cart', 422, 'cart_empty', () => ({ body: { cartId: emptyCartId, email: 'a@b.co', paymentToken: 'tok_visa' } })],
      ['an unknown cart', 404, 'not_found', () => ({ body: { cartId: 'cart_CCCCCCCCCCCCCCCCCCCCCC', email: 'a@b.co', paymentToken: 'tok_visa' } })],
      ['money as a float', 400, 'invalid_request', () => ({ body: { cartId, email: 'a@b.co', paymentToken: 'tok_visa', expectedTotal: { amount: 10.5, currency: 'USD' } } })],
      ['money as a string', 400, 'invalid_request', () => ({ body: { cartId, email: 'a@b.co', paymentToken: 'tok_visa', expectedTotal: '10.00' } })],
      ['a bad email', 400, 'invalid_request', () => ({ body: { cartId, email: 'nope', paymentToken: 'tok_visa' } })],
      ['malformed JSON', 400, 'invalid_request', () => ({ rawBody: '{"cartId":' })],
      ['a missing cart id', 400, 'invalid_request', () => ({ body: { email: 'a@b.co', paymentToken: 'tok_visa' } })],
    ];

    it.each(cases)('%s → %i %s', async (_name, status, code, make) => {
      const req = make();
      const headers = { 'Idempotency-Key': `bad-${Math.random()}`, ...req.headers };
      if (_name === 'missing Idempotency-Key') delete (headers as Record<string, string>)['Idempotency-Key'];
      const res = await stack.http('POST', '/checkouts', { ...req, headers });
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      const opened = await stack.dbs.order
        .select({ n: sql<number>`count(*)::int` })
        .from(checkouts)
        .where(eq(checkouts.cartId, cartId));
      expect(opened[0]?.n).toBe(0);
      const described = await stack.temporal.workflow.getHandle(`checkout-${cartId}`).describe().catch(() => undefined);
      expect(described).toBeUndefined();
    });
  });

  it('the confirmation is sent once even if the activity runs again', async () => {
    const deps = stack.activityDeps;
    if (!deps) throw new Error('no activity deps');
    const { createActivities } = await import('../../activities');
    const activities = createActivities(deps);
    const email = `once-${Date.now()}@example.com`;
    const req = {
      orderId: `ord_test_${Date.now()}`,
      checkoutId: 'chk_test',
      email,
      cart: { cartId: 'c', currency: 'USD', lines: [], total: { amount: 0, currency: 'USD' } },
    };
    expect(await activities.sendOrderConfirmation(req)).toEqual({ sent: true });
    expect(await activities.sendOrderConfirmation(req)).toEqual({ sent: false });
    const mail = await caughtMail();
    expect(mail.filter((m) => m.to.includes(email))).toHaveLength(1);
    const rows = await stack.dbs.notification.select().from(outbox).where(eq(outbox.recipient, email));
    expect(rows).toHaveLength(1);
  });
});
