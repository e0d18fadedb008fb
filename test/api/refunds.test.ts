import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { stock } from '../../db/schema/inventory';
import { orderLines } from '../../db/schema/order';
import { localGatewayOperations, payments } from '../../db/schema/payment';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { cancelSignal, refundStatusQuery } from '../../workflows/messages';
import { claimRefundLines, releaseRefundLines } from '../../db/stores/refund-lines';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { caughtMail } from '../helpers/mail';
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
  async function paidOrder(lines: [number, number][], email = `refund-${randomBytes(6).toString('base64url')}@example.com` /* no long digit runs: free text refuses card-like numbers */) {
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

  const admin = () => ({ Authorization: `Bearer ${stack.config.adminApiToken}` });
  const refund = (orderId: string, key: string, body: unknown) =>
    stack.http('POST', `/orders/${orderId}/refunds`, { headers: { 'Idempotency-Key': key, ...admin() }, body });
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
    await recordHistory(stack.temporal.workflow.getHandle(`refund-${res.body.refundId}`), 'refundWorkflow', 'claimed-full');
    const o = await order(orderId);
    expect(o.status).toBe('refunded');
    expect(o.payment).toMatchObject({ captured: { amount: 3000 }, refunded: { amount: 3000 } });
    expect(o.events.map((e: { type: string }) => e.type)).toEqual(['order_placed', 'order_paid', 'refund_requested', 'order_refunded']);
    const listed = await stack.http('GET', `/orders/${orderId}/refunds`);
    expect(listed.body.items).toHaveLength(1);
    const mail = await caughtMail();
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

  const stockOf = async (sku: string) => (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0];
  const lineOf = async (orderId: string, sku: string) =>
    (await stack.dbs.order.select().from(orderLines).where(and(eq(orderLines.orderId, orderId), eq(orderLines.sku, sku))))[0];
  const paymentOf = async (checkoutId: string) => (await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId)))[0];
  const settled = async (orderId: string) => {
    const deadline = Date.now() + 60_000;
    let listed = (await stack.http('GET', `/orders/${orderId}/refunds`)).body.items as { status: string; refundId: string }[];
    while (listed.some((r) => r.status === 'pending') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      listed = (await stack.http('GET', `/orders/${orderId}/refunds`)).body.items;
    }
    return listed;
  };

  describe('a line is never refunded or restocked beyond what was sold', () => {
    it('five refunds of the one unit of a 4.50 line: one succeeds, four get 422 refund_exceeds_sold, stock back by exactly 1', async () => {
      const { orderId, checkoutId, skus } = await paidOrder([[450, 1], [2000, 1]]);
      const sku = skus[0] as string;
      const before = await stockOf(sku);
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await refund(orderId, `one-${i}`, { lines: [{ sku, quantity: 1 }], restock: true, reason: 'returned' }));
      expect(answers.map((a) => a.status)).toEqual([201, 422, 422, 422, 422]);
      expect(answers[0]?.body).toMatchObject({ status: 'succeeded', amount: { amount: 450 } });
      for (const a of answers.slice(1)) {
        expect(a.body.error).toMatchObject({ code: 'refund_exceeds_sold', details: [{ sku, requested: 1, refundable: 0 }] });
      }
      expect((await order(orderId)).payment.refunded.amount).toBe(450);
      expect((await stockOf(sku))?.onHand).toBe((before?.onHand ?? 0) + 1);
      expect(await lineOf(orderId, sku)).toMatchObject({ quantity: 1, refundedQuantity: 1, restockedQuantity: 1 });
      expect(await paymentOf(checkoutId)).toMatchObject({ refundPendingAmount: 0, refundedAmount: 450 });
      // the refused request, sent again with its key, gets the same answer
      const again = await refund(orderId, 'one-1', { lines: [{ sku, quantity: 1 }], restock: true, reason: 'returned' });
      expect(again.status).toBe(422);
      expect(again.body.error.code).toBe('refund_exceeds_sold');
    });

    it('20 concurrent line refunds with restock of a one-unit line: exactly one succeeds, stock +1, the rest 422', async () => {
      const { orderId, checkoutId, skus } = await paidOrder([[450, 1], [9000, 1]]);
      const sku = skus[0] as string;
      const before = await stockOf(sku);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => refund(orderId, `race-${i}`, { lines: [{ sku, quantity: 1 }], restock: true, reason: 'returned' })),
      );
      expect(answers.filter((a) => a.status === 201 || a.status === 202)).toHaveLength(1);
      const refused = answers.filter((a) => a.status === 422);
      expect(refused).toHaveLength(19);
      for (const r of refused) expect(r.body.error.code).toBe('refund_exceeds_sold');
      const listed = await settled(orderId);
      expect(listed.filter((r) => r.status === 'succeeded')).toHaveLength(1);
      expect((await stockOf(sku))?.onHand).toBe((before?.onHand ?? 0) + 1);
      expect(await lineOf(orderId, sku)).toMatchObject({ refundedQuantity: 1, restockedQuantity: 1 });
      expect(await paymentOf(checkoutId)).toMatchObject({ refundPendingAmount: 0, refundedAmount: 450 });
      expect(await gatewayRefunds(checkoutId)).toHaveLength(1);
    });

    it('a full refund with restock after a line refund takes and restocks only what is left', async () => {
      const { orderId, checkoutId, skus } = await paidOrder([[1000, 3], [500, 2]]);
      const [a, b] = skus as [string, string];
      const [beforeA, beforeB] = [await stockOf(a), await stockOf(b)];
      expect((await refund(orderId, 'part', { lines: [{ sku: a, quantity: 1 }], restock: true, reason: 'returned' })).status).toBe(201);
      const full = await refund(orderId, 'rest', { restock: true, reason: 'all back' });
      expect(full.status).toBe(201);
      expect(full.body).toMatchObject({ status: 'succeeded', amount: { amount: 3000 } });
      expect((await stockOf(a))?.onHand).toBe((beforeA?.onHand ?? 0) + 3);
      expect((await stockOf(b))?.onHand).toBe((beforeB?.onHand ?? 0) + 2);
      expect(await lineOf(orderId, a)).toMatchObject({ refundedQuantity: 3, restockedQuantity: 3 });
      expect((await order(orderId)).status).toBe('refunded');
      const nothingLeft = await refund(orderId, 'more', { restock: true, reason: 'again' });
      expect(nothingLeft.status).toBe(422);
      expect(await paymentOf(checkoutId)).toMatchObject({ refundPendingAmount: 0, refundedAmount: 4000 });
    });

    it('lines with an amount: the amount is refunded and the units are taken', async () => {
      const { orderId, skus } = await paidOrder([[1000, 2]]);
      const sku = skus[0] as string;
      const res = await refund(orderId, 'goodwill', { lines: [{ sku, quantity: 2 }], amount: { amount: 1500, currency: 'USD' }, reason: 'kept one, damaged' });
      expect(res.body).toMatchObject({ status: 'succeeded', amount: { amount: 1500 } });
      expect(await lineOf(orderId, sku)).toMatchObject({ refundedQuantity: 2, restockedQuantity: 0 });
      expect((await refund(orderId, 'goodwill-2', { lines: [{ sku, quantity: 1 }], reason: 'x' })).body.error.code).toBe('refund_exceeds_sold');
    });
  });

  it('the claim is the judge: 20 concurrent claims of a one-unit line (no up-front check) → one claimed, nothing over; release gives it back once', async () => {
    const { orderId, skus } = await paidOrder([[450, 1]]);
    const sku = skus[0] as string;
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) => claimRefundLines(stack.dbs.order, { refundId: `rfd_claim_${orderId}_${i}`, orderId, lines: [{ sku, quantity: 1, restock: 1 }] })),
    );
    const won = claims.map((c, i) => [c, i] as const).filter(([c]) => c.status === 'claimed');
    expect(won).toHaveLength(1);
    for (const c of claims.filter((x) => x.status !== 'claimed')) expect(c).toEqual({ status: 'exceeds_sold', shortfalls: [{ sku, requested: 1, refundable: 0 }] });
    const winner = `rfd_claim_${orderId}_${won[0]?.[1]}`;
    // the same refund claiming again answers its stored claim and writes nothing
    expect(await claimRefundLines(stack.dbs.order, { refundId: winner, orderId, lines: [{ sku, quantity: 1, restock: 1 }] })).toEqual({ status: 'claimed', lines: [{ sku, quantity: 1, restock: 1 }] });
    expect(await lineOf(orderId, sku)).toMatchObject({ refundedQuantity: 1, restockedQuantity: 1 });
    expect(await releaseRefundLines(stack.dbs.order, winner)).toEqual([{ sku, quantity: 1, restock: 1 }]);
    expect(await releaseRefundLines(stack.dbs.order, winner)).toEqual([]);
    expect(await lineOf(orderId, sku)).toMatchObject({ refundedQuantity: 0, restockedQuantity: 0 });
    // a released refund never claims again; another refund may take the unit now
    expect((await claimRefundLines(stack.dbs.order, { refundId: winner, orderId, lines: [{ sku, quantity: 1, restock: 1 }] })).status).toBe('released');
    expect((await claimRefundLines(stack.dbs.order, { refundId: `rfd_claim_${orderId}_late`, orderId, lines: [{ sku, quantity: 1, restock: 0 }] })).status).toBe('claimed');
  });

  describe('refunds are a support action', () => {
    it('POST without the admin credential → 401, with a wrong one → 403, nothing written; the holder still reads refunds', async () => {
      const { orderId } = await paidOrder([[1000, 1]]);
      const none = await stack.http('POST', `/orders/${orderId}/refunds`, { headers: { 'Idempotency-Key': 'anon' }, body: { reason: 'x' } });
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('unauthorized');
      const wrong = await stack.http('POST', `/orders/${orderId}/refunds`, { headers: { 'Idempotency-Key': 'anon', Authorization: 'Bearer not-the-token' }, body: { reason: 'x' } });
      expect(wrong.status).toBe(403);
      expect(wrong.body.error.code).toBe('forbidden');
      const listed = await stack.http('GET', `/orders/${orderId}/refunds`);
      expect(listed.status).toBe(200);
      expect(listed.body.items).toEqual([]);
      expect((await order(orderId)).payment.refunded.amount).toBe(0);
    });

    it('the order history shows refund_requested with the reason and the actor, once per refund', async () => {
      const { orderId } = await paidOrder([[1000, 2]]);
      const first = await refund(orderId, 'why', { amount: { amount: 100, currency: 'USD' }, reason: 'arrived scratched' });
      await refund(orderId, 'why', { amount: { amount: 100, currency: 'USD' }, reason: 'arrived scratched' });
      // the actor (ADMIN_API_TOKEN's identity here) is shown to support only
      const asSupport = (await stack.http('GET', `/orders/${orderId}`, { headers: admin() })).body;
      const events = asSupport.events.filter((e: { type: string }) => e.type === 'refund_requested');
      expect(events).toEqual([
        expect.objectContaining({ type: 'refund_requested', reason: `arrived scratched (refund ${first.body.refundId})`, actor: { id: 'admin-token', name: 'admin-token' } }),
      ]);
      expect((await order(orderId)).events.find((e: { type: string }) => e.type === 'refund_requested').actor).toBeUndefined();
    });
  });

  it('the gateway refunded but its reply was lost; parked, then cancelled by support → recorded as succeeded, not released', async () => {
    const gateway = stack.activityDeps?.gateway as LocalGateway;
    const { orderId, checkoutId, skus } = await paidOrder([[700, 2]]);
    const sku = skus[0] as string;
    const before = await stockOf(sku);
    // the first call refunds and loses its reply; the retries are refused, so the refund parks
    gateway.setFaults({ mode: 'lost', count: 1, operations: ['refund'] });
    const answer = refund(orderId, 'lost', { lines: [{ sku, quantity: 1 }], restock: true, reason: 'returned' });
    await eventually(async () => ((await gatewayRefunds(checkoutId)).length === 1 ? true : undefined), 10_000, 'the gateway refund');
    gateway.setFaults({ mode: 'reject', count: 1_000, operations: ['refund'] });
    try {
      const pending = await eventually(async () => ((await stack.http('GET', `/orders/${orderId}/refunds`)).body.items as { refundId: string }[])[0], 10_000);
      const handle = stack.temporal.workflow.getHandle(`refund-${pending?.refundId}`);
      await eventually(async () => ((await handle.query(refundStatusQuery)).step === 'needs_attention' ? true : undefined), 30_000, 'parked');
      await handle.signal(cancelSignal, { reason: 'customer changed their mind' });
      expect(await handle.result()).toEqual({ refundId: pending?.refundId, status: 'succeeded' });
      await recordHistory(handle, 'refundWorkflow', 'lost-reply-parked-then-cancelled');
    } finally {
      gateway.setFaults(null);
    }
    expect((await answer).status).toBe(201);
    expect(await paymentOf(checkoutId)).toMatchObject({ refundPendingAmount: 0, refundedAmount: 700 });
    expect(await lineOf(orderId, sku)).toMatchObject({ refundedQuantity: 1, restockedQuantity: 1 });
    expect((await stockOf(sku))?.onHand).toBe((before?.onHand ?? 0) + 1);
    expect((await settled(orderId)).map((r) => r.status)).toEqual(['succeeded']);
    expect(await gatewayRefunds(checkoutId)).toHaveLength(1);
  });

  it('a parked refund cancelled from Temporal (Web UI cancel) gives back its reservation and its line claims; the units can be refunded again', async () => {
    const gateway = stack.activityDeps?.gateway as LocalGateway;
    const { orderId, checkoutId, skus } = await paidOrder([[800, 1]]);
    const sku = skus[0] as string;
    gateway.setFaults({ mode: 'reject', count: 1_000, operations: ['refund'] });
    try {
      const answer = refund(orderId, 'to-cancel', { lines: [{ sku, quantity: 1 }], restock: true, reason: 'returned' });
      const pending = await eventually(async () => ((await stack.http('GET', `/orders/${orderId}/refunds`)).body.items as { refundId: string }[])[0], 10_000);
      const handle = stack.temporal.workflow.getHandle(`refund-${pending.refundId}`);
      await eventually(async () => ((await handle.query(refundStatusQuery)).step === 'needs_attention' ? true : undefined), 30_000, 'parked');
      expect(await lineOf(orderId, sku)).toMatchObject({ refundedQuantity: 1, restockedQuantity: 1 });
      await handle.cancel();
      expect(await handle.result()).toMatchObject({ status: 'failed', failure: { code: 'refund_cancelled' } });
      expect((await answer).body.status).toBe('failed');
    } finally {
      gateway.setFaults(null);
    }
    expect(await paymentOf(checkoutId)).toMatchObject({ refundPendingAmount: 0, refundedAmount: 0 });
    expect(await lineOf(orderId, sku)).toMatchObject({ refundedQuantity: 0, restockedQuantity: 0 });
    expect(await gatewayRefunds(checkoutId)).toHaveLength(0);
    const again = await refund(orderId, 'after-cancel', { lines: [{ sku, quantity: 1 }], reason: 'returned' });
    expect(again.body).toMatchObject({ status: 'succeeded', amount: { amount: 800 } });
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
      ['restock with an amount and no lines (nothing to restock)', 400, 'invalid_request', () => ({ body: { reason: 'x', amount: { amount: 100, currency: 'USD' }, restock: true } })],
      ['a float amount', 400, 'invalid_request', () => ({ body: { reason: 'x', amount: { amount: 1.5, currency: 'USD' } } })],
      ['a zero amount', 400, 'invalid_request', () => ({ body: { reason: 'x', amount: { amount: 0, currency: 'USD' } } })],
      ['another currency', 400, 'invalid_request', () => ({ body: { reason: 'x', amount: { amount: 100, currency: 'EUR' } } })],
      ['a line not in the order', 400, 'invalid_request', () => ({ body: { reason: 'x', lines: [{ sku: 'NOT-IN-ORDER', quantity: 1 }] } })],
      ['more units than ordered', 422, 'refund_exceeds_sold', () => ({ body: { reason: 'x', lines: [{ sku, quantity: 3 }] } })],
      ['an unknown order', 404, 'not_found', () => ({ body: { reason: 'x' }, path: '/orders/ord_unknown/refunds' })],
    ])('%s → %i %s', async (_n, status, code, make) => {
      const req = make();
      const headers: Record<string, string> = req.key === '' ? admin() : { 'Idempotency-Key': `bad-${Math.random()}`, ...admin() };
      const res = await stack.http('POST', req.path ?? `/orders/${orderId}/refunds`, { headers, body: req.body });
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect((await stack.http('GET', `/orders/${orderId}/refunds`)).body.items).toEqual([]);
    });
  });
});
