import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { EncryptionCodec } from '../../temporal/codec';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { eq, inArray, sql } from 'drizzle-orm';
import Stripe from 'stripe';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { randomId } from '../../db/ids';
import { checkouts, orderEvents, orders } from '../../db/schema/order';
import { payments, webhookInbox } from '../../db/schema/payment';
import { createOrder } from '../../db/stores/orders';
import { getPaymentByCheckout, recordAuthorization, recordCapture } from '../../db/stores/payments';
import { checkoutWorkflowId, paymentFollowUpWorkflowId } from '../../temporal/workflow-ids';
import { receivePaymentEvent } from '../../usecases/receive-payment-event';
import type { PaymentEventNotice } from '../../workflows/messages';
import { eventually } from '../helpers/eventually';
import { startStack, type HttpResult, type Stack } from '../helpers/stack';

/**
 * POST /webhooks/stripe against the real app, PostgreSQL and Temporal. Signatures come from
 * stripe.webhooks.generateTestHeaderString. Checkout workflows are stand-ins started on a
 * task queue no worker polls: they stay running and record every signal in their history,
 * which is what these tests count (the real checkout workflow's handling is its own test).
 */
describe('POST /webhooks/stripe (signed gateway events)', () => {
  let stack: Stack;
  const NO_WORKER = `webhooks-no-worker-${randomBytes(4).toString('hex')}`;
  const standIns: string[] = [];

  beforeAll(async () => {
    // A delivery holds its pool connection while it signals Temporal (the inbox row's lock,
    // db/stores/webhook-inbox.ts): a larger pool lets the storm below run more of them at once.
    stack = await startStack({ worker: true, env: { DATABASE_POOL_SIZE: '20' } });
  });
  afterAll(async () => {
    await Promise.allSettled(standIns.map((id) => stack.temporal.workflow.getHandle(id).terminate('test over')));
    await stack?.close();
  });

  const secret = () => stack.config.payment.webhookSecret;
  const now = () => Math.floor(Date.now() / 1000);

  function eventOf(type: string, object: Record<string, unknown>, id = `evt_test_${randomBytes(8).toString('hex')}`) {
    return { id, object: 'event', api_version: '2025-01-27.acacia', created: now(), livemode: false, type, data: { object } };
  }
  const intent = (id: string, reference?: string) => ({ id, object: 'payment_intent', status: 'requires_capture', metadata: reference ? { reference } : {} });

  function post(body: string, header?: string | null): Promise<HttpResult> {
    const headers: Record<string, string> = {};
    if (header !== null) headers['stripe-signature'] = header ?? Stripe.webhooks.generateTestHeaderString({ payload: body, secret: secret() });
    return stack.http('POST', '/webhooks/stripe', { rawBody: body, headers });
  }
  const deliver = (event: object) => post(JSON.stringify(event));

  async function inboxRows(eventIds: string[]) {
    if (eventIds.length === 0) return [];
    return stack.dbs.payment.select().from(webhookInbox).where(inArray(webhookInbox.eventId, eventIds));
  }

  /** A checkout row as the API opens it (pending unless told), and optionally its stand-in workflow. */
  async function checkoutRow(o: { checkoutId?: string; status?: 'pending' | 'placed' | 'failed'; workflow?: boolean } = {}) {
    const checkoutId = o.checkoutId ?? randomId('chk');
    const cartId = randomId('cart');
    const workflowId = checkoutWorkflowId(cartId);
    await stack.dbs.order.insert(checkouts).values({ checkoutId, cartId, idempotencyKey: `k-${checkoutId}`, requestHash: 'h', email: 'hooks@example.com', workflowId, status: o.status ?? 'pending' });
    if (o.workflow) await standIn(workflowId, checkoutId, cartId);
    return { checkoutId, cartId, workflowId };
  }

  async function standIn(workflowId: string, checkoutId: string, cartId: string): Promise<void> {
    await stack.temporal.workflow.start('checkoutWorkflow', {
      workflowId,
      taskQueue: NO_WORKER,
      args: [{ checkoutId, cartId, email: 'hooks@example.com', paymentToken: 'tok_visa' }],
      workflowExecutionTimeout: '10m',
    });
    standIns.push(workflowId);
  }

  /** The paymentEvent signals a workflow received, in order. */
  async function signalsOf(workflowId: string): Promise<PaymentEventNotice[]> {
    const history = await stack.temporal.workflow.getHandle(workflowId).fetchHistory();
    const codec = new EncryptionCodec(stack.config.privacy.payloadKeys);
    const payloads = (history.events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((a) => a?.signalName === 'paymentEvent')
      .map((a) => a!.input!.payloads![0] as Payload);
    // history holds them encrypted (temporal/codec.ts)
    return (await codec.decode(payloads)).map((p) => defaultPayloadConverter.fromPayload(p) as PaymentEventNotice);
  }

  describe('signature and body checks: 400 and nothing written', () => {
    let target: { checkoutId: string };
    beforeAll(async () => {
      target = await checkoutRow({ status: 'placed' });
    });
    const signedEvent = () => JSON.stringify(eventOf('payment_intent.succeeded', intent(`pi_sig_${randomBytes(4).toString('hex')}`, target.checkoutId)));
    const cases: [string, (body: string) => { body: string; header: string | null }][] = [
      ['a missing Stripe-Signature header', (body) => ({ body, header: null })],
      ['an empty Stripe-Signature header', (body) => ({ body, header: '' })],
      ['a forged signature', (body) => ({ body, header: `t=${now()},v1=${'ab'.repeat(32)}` })],
      ['a signature made with another secret', (body) => ({ body, header: Stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_someone_else' }) })],
      [
        'a replay outside the tolerance',
        (body) => ({ body, header: Stripe.webhooks.generateTestHeaderString({ payload: body, secret: secret(), timestamp: now() - stack.config.payment.webhookToleranceSeconds - 60 }) }),
      ],
      ['a body altered after signing', (body) => ({ body: body.replace('payment_intent.succeeded', 'payment_intent.canceled'), header: Stripe.webhooks.generateTestHeaderString({ payload: body, secret: secret() }) })],
    ];

    it.each(cases)('%s → 400 webhook_signature_invalid, no inbox row', async (_name, make) => {
      const original = signedEvent();
      const { body, header } = make(original);
      const res = await post(body, header);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('webhook_signature_invalid');
      expect(await inboxRows([JSON.parse(original).id as string])).toHaveLength(0);
    });

    it('the same event correctly signed is accepted and recorded (the control of the table above)', async () => {
      const body = signedEvent();
      const res = await post(body);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ received: true, outcome: 'checkout_closed' });
      expect(await inboxRows([JSON.parse(body).id as string])).toHaveLength(1);
    });

    it('a signed body that is not JSON → 400 invalid_request; not an event → 400', async () => {
      const notJson = await post('{"id": "evt_x", oops');
      expect(notJson.status).toBe(400);
      expect(notJson.body.error.code).toBe('invalid_request');
      const notEvent = await post(JSON.stringify({ id: 'evt_not_an_event', object: 'charge' }));
      expect(notEvent.status).toBe(400);
      expect(notEvent.body.error.code).toBe('invalid_request');
      expect(await inboxRows(['evt_x', 'evt_not_an_event'])).toHaveLength(0);
    });

    it('a body over the limit → 413 payload_too_large before any parsing', async () => {
      const huge = JSON.stringify(eventOf('payment_intent.succeeded', { ...intent('pi_huge', target.checkoutId), padding: 'x'.repeat(300_000) }));
      const res = await post(huge);
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('payload_too_large');
    });

    it('GET is a 405 (the route is POST only)', async () => {
      expect((await stack.http('GET', '/webhooks/stripe')).status).toBe(405);
    });
  });

  describe('events that are not ours: 200, nothing written (not even the inbox)', () => {
    it.each([
      ['an unknown intent without a reference', () => eventOf('payment_intent.succeeded', intent(`pi_unknown_${randomBytes(4).toString('hex')}`))],
      ['a foreign reference', () => eventOf('payment_intent.succeeded', intent('pi_foreign', 'order-42-of-another-shop'))],
      ['a charge of an unknown intent', () => eventOf('charge.refunded', { id: 'ch_unknown', object: 'charge', payment_intent: `pi_unknown_${randomBytes(4).toString('hex')}` })],
      ['a type we do not act on', () => eventOf('customer.created', { id: 'cus_1', object: 'customer' })],
    ])('%s', async (_name, make) => {
      const event = make();
      const res = await deliver(event);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ received: true, eventId: event.id });
      expect(typeof res.body.ignored).toBe('string');
      expect(await inboxRows([event.id])).toHaveLength(0);
    });
  });

  describe('delivery to the checkout workflow', () => {
    it('a pending checkout is signalled with the event id and its checkout id; a duplicate is acknowledged and not signalled again', async () => {
      const c = await checkoutRow({ workflow: true });
      const event = eventOf('payment_intent.amount_capturable_updated', intent('pi_one', c.checkoutId));
      expect((await deliver(event)).body.outcome).toBe('signalled_checkout');
      expect((await deliver(event)).body.outcome).toBe('duplicate');
      expect(await signalsOf(c.workflowId)).toEqual([{ eventId: event.id, checkoutId: c.checkoutId, type: event.type }]);
      const [row] = await inboxRows([event.id]);
      expect(row).toMatchObject({ checkoutId: c.checkoutId, objectId: 'pi_one', outcome: 'signalled_checkout' });
      expect(row?.deliveredAt).not.toBeNull();
    });

    it('an event before its checkout exists is stored unrouted (2xx); delivered again once the checkout exists, it is signalled', async () => {
      const checkoutId = randomId('chk');
      const event = eventOf('payment_intent.requires_action', intent('pi_early', checkoutId));
      const early = await deliver(event);
      expect(early.status).toBe(200);
      expect(early.body.outcome).toBe('unrouted');
      expect(await inboxRows([event.id])).toEqual([expect.objectContaining({ outcome: 'unrouted', deliveredAt: null })]);
      const c = await checkoutRow({ checkoutId, workflow: true });
      expect((await deliver(event)).body.outcome).toBe('signalled_checkout');
      expect((await signalsOf(c.workflowId)).map((s) => s.eventId)).toEqual([event.id]);
    });

    it('a checkout that is no longer pending is not signalled (recorded as checkout_closed)', async () => {
      const c = await checkoutRow({ status: 'failed', workflow: true });
      const event = eventOf('payment_intent.canceled', intent('pi_closed', c.checkoutId));
      expect((await deliver(event)).body.outcome).toBe('checkout_closed');
      expect(await signalsOf(c.workflowId)).toEqual([]);
    });

    it('a pending checkout whose workflow never started or has ended: recorded, no signal, no error', async () => {
      const never = await checkoutRow();
      const res = await deliver(eventOf('payment_intent.payment_failed', intent('pi_gone', never.checkoutId)));
      expect(res.status).toBe(200);
      expect(res.body.outcome).toBe('workflow_not_running');
      const ended = await checkoutRow({ workflow: true });
      await stack.temporal.workflow.getHandle(ended.workflowId).terminate('killed by the test');
      const late = await deliver(eventOf('payment_intent.payment_failed', intent('pi_ended', ended.checkoutId)));
      expect(late.status).toBe(200);
      expect(late.body.outcome).toBe('workflow_not_running');
    });

    it('a recorded event that was never delivered (the process died after the insert) is delivered by the next delivery', async () => {
      const c = await checkoutRow({ workflow: true });
      const event = eventOf('payment_intent.processing', intent('pi_crash', c.checkoutId));
      await stack.dbs.payment.insert(webhookInbox).values({ eventId: event.id, type: event.type, objectId: 'pi_crash', checkoutId: c.checkoutId });
      expect((await deliver(event)).body.outcome).toBe('signalled_checkout');
      expect((await deliver(event)).body.outcome).toBe('duplicate');
      expect((await signalsOf(c.workflowId)).map((s) => s.eventId)).toEqual([event.id]);
    });

    it('when Temporal fails during the delivery: 503, the inbox row rolls back, and the sender’s retry delivers it', async () => {
      const c = await checkoutRow({ workflow: true });
      const event = eventOf('payment_intent.succeeded', intent('pi_flaky', c.checkoutId));
      const body = JSON.stringify(event);
      const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: secret() });
      const failing = { workflow: { getHandle: () => ({ signal: () => Promise.reject(new Error('14 UNAVAILABLE: temporal is down')) }) } } as unknown as Client;
      const deps = { config: stack.config, dbs: stack.dbs, logger: (await import('../../logger')).createLogger('silent'), temporal: failing };
      const failed = await receivePaymentEvent(deps, Buffer.from(body), header);
      expect(failed).toMatchObject({ kind: 'rejected', code: 'service_unavailable' });
      expect(await inboxRows([event.id])).toHaveLength(0);
      expect((await post(body, header)).body.outcome).toBe('signalled_checkout');
      expect((await signalsOf(c.workflowId)).map((s) => s.eventId)).toEqual([event.id]);
    });
  });

  it('a storm: 1,000 deliveries for 100 checkouts, 30 % duplicates, shuffled, some before their checkout exists → inbox = distinct events, each signalled at most once', async () => {
    const TYPES = ['payment_intent.requires_action', 'payment_intent.processing', 'payment_intent.amount_capturable_updated', 'payment_intent.payment_failed', 'payment_intent.canceled', 'payment_intent.succeeded'];
    const tag = randomBytes(4).toString('hex');
    // 100 checkouts: 0–69 exist from the start (20 of them found through their payment row,
    // their events carry no reference), 70–99 are opened while the storm runs
    const plan = Array.from({ length: 100 }, (_, i) => ({ i, checkoutId: randomId('chk'), cartId: randomId('cart'), early: i < 70, byPayment: i < 20, intentId: `pi_storm_${tag}_${i}` }));
    const open = async (p: (typeof plan)[number]) => {
      await stack.dbs.order.insert(checkouts).values({ checkoutId: p.checkoutId, cartId: p.cartId, idempotencyKey: 'storm', requestHash: 'h', email: 'storm@example.com', workflowId: checkoutWorkflowId(p.cartId) });
    };
    await Promise.all(plan.map((p) => standIn(checkoutWorkflowId(p.cartId), p.checkoutId, p.cartId)));
    await Promise.all(plan.filter((p) => p.early).map(open));
    for (const p of plan.filter((x) => x.byPayment)) {
      await recordAuthorization(stack.dbs.payment, { checkoutId: p.checkoutId, gateway: 'local', gatewayRef: p.intentId, amount: 1000, currency: 'USD' });
    }
    const paymentsBefore = await stack.dbs.payment.select().from(payments).where(inArray(payments.checkoutId, plan.map((p) => p.checkoutId)));

    const events = plan.flatMap((p) =>
      Array.from({ length: 7 }, (_, j) => ({ p, event: eventOf(TYPES[j % TYPES.length]!, intent(p.intentId, p.byPayment ? undefined : p.checkoutId), `evt_storm_${tag}_${p.i}_${j}`) })),
    );
    const deliveries = [...events, ...Array.from({ length: 300 }, () => events[Math.floor(Math.random() * events.length)]!)];
    for (let i = deliveries.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }
    expect(deliveries).toHaveLength(1000);

    const statuses: number[] = [];
    let next = 0;
    let lateOpened: Promise<void> | undefined;
    const sender = async () => {
      while (next < deliveries.length) {
        const d = deliveries[next]!;
        next += 1;
        // the late checkouts open once 40 % of the deliveries went out
        if (next === 400) lateOpened = Promise.all(plan.filter((p) => !p.early).map(open)).then(() => undefined);
        statuses.push((await deliver(d.event)).status);
      }
    };
    await Promise.all(Array.from({ length: 30 }, sender));
    await lateOpened;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    const distinct = events.map((e) => e.event.id);
    const rows = await inboxRows(distinct);
    expect(rows).toHaveLength(distinct.length);
    const signalledInInbox = new Set(rows.filter((r) => r.outcome === 'signalled_checkout').map((r) => r.eventId));
    expect(rows.every((r) => r.outcome === 'signalled_checkout' || r.outcome === 'unrouted')).toBe(true);

    const signalled: string[] = [];
    for (const p of plan) {
      const received = await signalsOf(checkoutWorkflowId(p.cartId));
      const ids = received.map((s) => s.eventId);
      expect(new Set(ids).size).toBe(ids.length); // never twice
      expect(received.every((s) => s.checkoutId === p.checkoutId && s.eventId.startsWith(`evt_storm_${tag}_${p.i}_`))).toBe(true);
      // a checkout that existed throughout got every one of its events, once
      if (p.early) expect(ids.sort()).toEqual(events.filter((e) => e.p === p).map((e) => e.event.id).sort());
      signalled.push(...ids);
    }
    expect(new Set(signalled)).toEqual(signalledInInbox);

    // the handler wrote no order and no payment row
    const ids = plan.map((p) => p.checkoutId);
    expect(await stack.dbs.order.select().from(orders).where(inArray(orders.checkoutId, ids))).toEqual([]);
    expect(await stack.dbs.payment.select().from(payments).where(inArray(payments.checkoutId, ids))).toEqual(paymentsBefore);
  }, 120_000);

  describe('follow-ups: disputes and refunds made at the gateway', () => {
    const gateway = () => stack.activityDeps!.gateway as LocalGateway;

    /** A paid order made without a checkout workflow: authorized and captured at the local gateway, our ledger recording both. */
    async function paidOrder(amount = 2500) {
      const c = await checkoutRow();
      const auth = await gateway().authorize({ idempotencyKey: `${c.workflowId}/${c.checkoutId}/authorize`, amount, currency: 'USD', paymentToken: 'tok_visa', reference: c.checkoutId });
      await recordAuthorization(stack.dbs.payment, { checkoutId: c.checkoutId, gateway: 'local', gatewayRef: auth.ref, amount, currency: 'USD' });
      const orderId = await createOrder(stack.dbs.order, {
        checkoutId: c.checkoutId,
        cartId: c.cartId,
        email: 'hooks@example.com',
        currency: 'USD',
        totalAmount: amount,
        lines: [{ sku: 'WEBHOOK-1', name: 'a disputed thing', quantity: 1, unitPrice: amount, lineTotal: amount }],
      });
      await gateway().capture({ idempotencyKey: `${c.workflowId}/${c.checkoutId}/capture`, ref: auth.ref, amount, currency: 'USD' });
      await recordCapture(stack.dbs.payment, c.checkoutId, orderId, amount);
      return { ...c, orderId, ref: auth.ref };
    }
    const disputeLines = async (orderId: string) =>
      (await stack.dbs.order.select().from(orderEvents).where(eq(orderEvents.orderId, orderId))).filter((e) => e.type === 'dispute_opened');

    it('charge.dispute.created delivered 5 times at once → one follow-up, the order flagged for support once', async () => {
      const o = await paidOrder();
      const event = eventOf('charge.dispute.created', { id: `dp_${o.ref}`, object: 'dispute', amount: 2500, currency: 'usd', charge: `ch_${o.ref}`, payment_intent: o.ref, reason: 'fraudulent', status: 'needs_response' });
      const answers = await Promise.all(Array.from({ length: 5 }, () => deliver(event)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(answers.map((a) => a.body.outcome).sort()).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate', 'follow_up_started']);
      const result = await stack.temporal.workflow.getHandle(paymentFollowUpWorkflowId(event.id)).result();
      expect(result).toMatchObject({ flaggedOrderId: o.orderId, ledger: { synced: true, status: 'captured' } });
      const lines = await disputeLines(o.orderId);
      expect(lines).toHaveLength(1);
      expect(lines[0]?.reason).toContain(`dp_${o.ref}`);
      // the order is not moved: support sees the line in its history, refunds stay possible
      const view = await stack.http('GET', `/orders/${o.orderId}`);
      expect(view.body.status).toBe('placed');
      expect(view.body.events.map((e: { type: string }) => e.type)).toContain('dispute_opened');
    });

    it('a dispute opened at the local gateway reaches the API as a signed webhook and flags the order', async () => {
      const o = await paidOrder();
      await gateway().openDispute(o.ref);
      const lines = await eventually(async () => ((await disputeLines(o.orderId)).length > 0 ? disputeLines(o.orderId) : undefined), 15_000, 'dispute flagged');
      expect(lines).toHaveLength(1);
      const rows = await stack.dbs.payment.select().from(webhookInbox).where(sql`${webhookInbox.checkoutId} = ${o.checkoutId} and ${webhookInbox.type} = 'charge.dispute.created'`);
      expect(rows).toEqual([expect.objectContaining({ outcome: 'follow_up_started', objectId: o.ref })]);
    });

    it('charge.refunded for a refund made outside Orderly (the dashboard) → our ledger re-synced from the gateway', async () => {
      const o = await paidOrder(4000);
      await gateway().refund({ idempotencyKey: `dashboard-${o.checkoutId}`, ref: o.ref, amount: 1500, currency: 'USD' });
      const synced = await eventually(async () => {
        const p = await getPaymentByCheckout(stack.dbs.payment, o.checkoutId);
        return p && p.refundedAmount > 0 ? p : undefined;
      }, 15_000, 'ledger synced');
      expect(synced).toMatchObject({ status: 'partially_refunded', capturedAmount: 4000, refundedAmount: 1500 });
    });
  });
});
