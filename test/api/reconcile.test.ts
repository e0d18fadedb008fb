import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { createActivities } from '../../activities';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { holds, stock } from '../../db/schema/inventory';
import { checkouts, orderEvents, orders } from '../../db/schema/order';
import { localGatewayOperations, payments, refunds } from '../../db/schema/payment';
import { ensureSchedules } from '../../temporal/schedules';
import { RECONCILE_SCHEDULE_ID } from '../../temporal/workflow-ids';
import { reconcileWorkflow, type ReconcileSummary } from '../../workflows/reconcile';
import { createTestDatabase } from '../helpers/database';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * The broken states a crash or a terminate leaves, made for real (a real checkout or refund
 * workflow, the local gateway losing its replies, the workflow terminated mid-step), then one
 * reconciliation. The suite has a database of its own: reconciliation looks at every recent
 * checkout, and other suites' checkouts are not its business.
 */
describe('reconciliation on the real stack', () => {
  let db: { url: string; drop(): Promise<void> };
  let stack: Stack;
  let gateway: LocalGateway;
  let summary: ReconcileSummary;
  const cases: Record<'a' | 'b' | 'c' | 'd1' | 'd2' | 'e', { cartId: string; checkoutId: string; sku: string; orderId?: string; refundId?: string }> = {} as never;
  const TOTAL = 2 * 1250;

  const checkoutOf = async (cartId: string) => (await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId)))[0];
  const operation = async (key: string) => (await stack.dbs.payment.select().from(localGatewayOperations).where(eq(localGatewayOperations.idempotencyKey, key)))[0];
  const paymentOf = async (checkoutId: string) => (await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId)))[0];
  const orderOf = async (orderId: string) => (await stack.dbs.order.select().from(orders).where(eq(orders.id, orderId)))[0];
  const eventsOf = async (orderId: string) => stack.dbs.order.select().from(orderEvents).where(eq(orderEvents.orderId, orderId)).orderBy(orderEvents.id);
  const holdsOf = async (checkoutId: string) => (await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId))).map((h) => h.status);
  const stockOf = async (sku: string) => (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0];

  async function cart() {
    const sku = await createProduct(stack.dbs, { priceAmount: 1250, onHand: 10 });
    const created = await stack.http('POST', '/carts', { body: {} });
    await stack.http('PUT', `/carts/${created.body.id}/lines/${sku}`, { body: { quantity: 2 } });
    return { cartId: created.body.id as string, sku };
  }

  /** POST /checkouts, without waiting for the answer (the workflow may be terminated before it comes). */
  function post(cartId: string) {
    return stack
      .http('POST', '/checkouts', { headers: { 'Idempotency-Key': `k-${cartId}` }, body: { cartId, email: 'recon@example.com', paymentToken: 'tok_visa' } })
      .catch(() => undefined);
  }

  /** A checkout whose gateway `step` happened while its reply was lost; its workflow terminated right after. */
  async function terminatedAfter(step: 'authorize' | 'capture', opts: { keepFaults?: boolean } = {}) {
    const { cartId, sku } = await cart();
    gateway.setFaults({ mode: 'lost', count: 1000, operations: [step] });
    const answer = post(cartId);
    const checkoutId = await eventually(async () => (await checkoutOf(cartId))?.checkoutId, 20_000, 'checkout opened');
    await eventually(() => operation(`checkout-${cartId}/${checkoutId}/${step}`), 20_000, `${step} at the gateway`);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).terminate('test: crashed after the gateway step');
    if (!opts.keepFaults) gateway.setFaults(null);
    await answer;
    const orderId = (await checkoutOf(cartId))?.orderId ?? undefined;
    return { cartId, checkoutId, sku, orderId };
  }

  async function paidOrder() {
    const { cartId, sku } = await cart();
    const res = await post(cartId);
    expect(res?.status).toBe(201);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    return { cartId, sku, checkoutId: res?.body.checkoutId as string, orderId: res?.body.orderId as string };
  }

  /** Our ledger row equals what the gateway's own ledger says about the payment. */
  async function expectLedgerEqualsGateway(checkoutId: string) {
    const row = await paymentOf(checkoutId);
    expect(row).toBeDefined();
    const g = await gateway.state(row?.gatewayRef ?? '');
    const status = g.captured === 0 ? (g.voided ? 'voided' : 'authorized') : g.refunded >= g.captured ? 'refunded' : g.refunded > 0 ? 'partially_refunded' : 'captured';
    expect({ status: row?.status, authorized: row?.authorizedAmount, captured: row?.capturedAmount, refunded: row?.refundedAmount }).toEqual({
      status,
      authorized: g.authorized,
      captured: g.captured,
      refunded: g.refunded,
    });
    return g;
  }

  async function reconcile(history?: string) {
    const handle = await stack.temporal.workflow.start(reconcileWorkflow, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: `reconcile-test-${randomBytes(4).toString('hex')}`,
      args: [{}],
    });
    const result = await handle.result();
    if (history) await recordHistory(handle, 'reconcileWorkflow', history);
    return result;
  }

  beforeAll(async () => {
    db = await createTestDatabase('reconcile');
    stack = await startStack({ worker: true, env: { DATABASE_URL: db.url, RECONCILE_GRACE_SECONDS: '0', CHECKOUT_WAIT_MS: '10000' } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
    const activities = createActivities(stack.activityDeps as NonNullable<Stack['activityDeps']>);

    // (e) a support refund made by the gateway whose reply was lost, its workflow terminated
    cases.e = await paidOrder();
    gateway.setFaults({ mode: 'lost', count: 1000, operations: ['refund'] });
    const asked = stack
      .http('POST', `/orders/${cases.e.orderId}/refunds`, {
        headers: { 'Idempotency-Key': 'lost-refund', Authorization: `Bearer ${stack.config.adminApiToken}` },
        body: { amount: { amount: TOTAL, currency: 'USD' }, reason: 'damaged' },
      })
      .catch(() => undefined);
    const refundId = await eventually(
      async () => (await stack.dbs.payment.select().from(refunds).where(eq(refunds.orderId, cases.e.orderId as string)))[0]?.id,
      20_000,
      'refund opened',
    );
    await eventually(() => operation(`refund-${refundId}/gateway`), 20_000, 'refund at the gateway');
    await stack.temporal.workflow.getHandle(`refund-${refundId}`).terminate('test: crashed after the gateway refund');
    gateway.setFaults(null);
    await asked;
    cases.e.refundId = refundId;

    // (d2) the same wrong ledger row on a good, paid order
    cases.d2 = await paidOrder();
    await stack.dbs.payment.update(payments).set({ status: 'voided', capturedAmount: 0 }).where(eq(payments.checkoutId, cases.d2.checkoutId));
    // (b) terminated after capture, its order failed by a compensation cut short
    cases.b = await terminatedAfter('capture');
    await activities.failOrder({ checkoutId: cases.b.checkoutId, reason: 'checkout compensated' });
    // (c) terminated after the 201 (order placed), while capturing
    cases.c = await terminatedAfter('capture');
    // (d1) the old bug: the order failed, our ledger says voided, the gateway captured
    cases.d1 = await terminatedAfter('capture');
    await activities.failOrder({ checkoutId: cases.d1.checkoutId, reason: 'checkout compensated' });
    await stack.dbs.payment.update(payments).set({ status: 'voided' }).where(eq(payments.checkoutId, cases.d1.checkoutId));
    // (a) terminated after authorize, before the order: the authorization exists only at the gateway.
    // Last, because its fault stays on: authorize is a local activity, and the worker retries it
    // until it learns of the terminate, so a cleared fault would let a late attempt record it.
    cases.a = await terminatedAfter('authorize', { keepFaults: true });

    // the broken states, as the crash left them
    expect(await paymentOf(cases.a.checkoutId)).toBeUndefined();
    expect(await holdsOf(cases.a.checkoutId)).toEqual(['held']);
    expect((await paymentOf(cases.b.checkoutId))?.status).toBe('authorized');
    expect((await orderOf(cases.c.orderId as string))?.status).toBe('placed');
    expect((await stack.dbs.payment.select().from(refunds).where(eq(refunds.id, refundId)))[0]?.status).toBe('pending');

    summary = await reconcile('repairs-and-parks');
  }, 180_000);

  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
    await db?.drop();
  });

  it('counts what it repaired and parked', () => {
    expect(summary).toEqual({
      inspected: 7,
      repaired: { voided: 1, refunded: 2, released: 3, ledgerCorrected: 2, checkoutsFailed: 1, refundsSettled: 1 },
      parked: 1,
      errors: 0,
      parkedCheckouts: [{ checkoutId: cases.c.checkoutId, orderId: cases.c.orderId, reason: expect.stringContaining('after the order was placed') }],
      runs: 1,
    });
  });

  it('(a) terminated after authorize: the authorization is voided at the gateway, the hold released, the checkout failed', async () => {
    const g = await expectLedgerEqualsGateway(cases.a.checkoutId);
    expect(g).toMatchObject({ authorized: TOTAL, captured: 0, voided: true });
    expect(await holdsOf(cases.a.checkoutId)).toEqual(['released']);
    expect(await stockOf(cases.a.sku)).toMatchObject({ onHand: 10, reserved: 0, sold: 0 });
    const row = await checkoutOf(cases.a.cartId);
    expect(row).toMatchObject({ status: 'failed', orderId: null, failure: { code: 'checkout_failed', message: expect.stringContaining('25.00 USD was voided') } });
  });

  it('(b) terminated after capture with a failed order: refunded, the hold released, recorded in the order history', async () => {
    const g = await expectLedgerEqualsGateway(cases.b.checkoutId);
    expect(g).toMatchObject({ captured: TOTAL, refunded: TOTAL });
    expect(await holdsOf(cases.b.checkoutId)).toEqual(['released']);
    expect(await stockOf(cases.b.sku)).toMatchObject({ onHand: 10, reserved: 0, sold: 0 });
    const orderId = cases.b.orderId as string;
    expect((await orderOf(orderId))?.status).toBe('failed');
    const reconciled = (await eventsOf(orderId)).filter((e) => e.type === 'reconciled');
    expect(reconciled.map((e) => e.reason)).toEqual([expect.stringMatching(/payment of 25\.00 USD was refunded.*stock hold was released/)]);
  });

  it('(c) terminated after the 201 with the order placed: the order needs attention, nothing refunded, the hold kept', async () => {
    const g = await expectLedgerEqualsGateway(cases.c.checkoutId);
    expect(g).toMatchObject({ captured: TOTAL, refunded: 0 });
    const order = await orderOf(cases.c.orderId as string);
    expect(order).toMatchObject({ status: 'needs_attention', statusReason: expect.stringContaining('reconciliation: the checkout workflow ended after the order was placed') });
    expect(await holdsOf(cases.c.checkoutId)).toEqual(['held']);
  });

  it('(d) a ledger row saying voided while the gateway captured: corrected, and refunded only when the order failed', async () => {
    const failed = await expectLedgerEqualsGateway(cases.d1.checkoutId);
    expect(failed).toMatchObject({ captured: TOTAL, refunded: TOTAL });
    expect((await paymentOf(cases.d1.checkoutId))?.status).toBe('refunded');

    const paid = await expectLedgerEqualsGateway(cases.d2.checkoutId);
    expect(paid).toMatchObject({ captured: TOTAL, refunded: 0 });
    expect((await paymentOf(cases.d2.checkoutId))?.status).toBe('captured');
    expect((await orderOf(cases.d2.orderId as string))?.status).toBe('paid');
    const reconciled = (await eventsOf(cases.d2.orderId as string)).filter((e) => e.type === 'reconciled');
    expect(reconciled.map((e) => e.reason)).toEqual(['reconciliation: the payment ledger was corrected from the gateway (captured)']);
  });

  it('(e) a pending refund whose gateway reply was lost and workflow terminated: completed, the order refunded', async () => {
    const refund = (await stack.dbs.payment.select().from(refunds).where(eq(refunds.id, cases.e.refundId as string)))[0];
    expect(refund).toMatchObject({ status: 'succeeded', gatewayRef: expect.any(String) });
    const g = await expectLedgerEqualsGateway(cases.e.checkoutId);
    expect(g).toMatchObject({ captured: TOTAL, refunded: TOTAL });
    expect((await paymentOf(cases.e.checkoutId))?.refundPendingAmount).toBe(0);
    expect((await orderOf(cases.e.orderId as string))?.status).toBe('refunded');
    const types = (await eventsOf(cases.e.orderId as string)).map((e) => e.type);
    expect(types.slice(-2)).toEqual(['order_refunded', 'reconciled']);
  });

  it('a second run finds nothing more to repair; the parked order stays parked', async () => {
    const again = await reconcile();
    expect(again).toMatchObject({
      inspected: 6,
      repaired: { voided: 0, refunded: 0, released: 0, ledgerCorrected: 0, checkoutsFailed: 0, refundsSettled: 0 },
      parked: 1,
      errors: 0,
    });
    expect((await eventsOf(cases.b.orderId as string)).filter((e) => e.type === 'reconciled')).toHaveLength(1);
  });

  it('runs on a Schedule (overlap skip) that support can pause and resume', async () => {
    await ensureSchedules(stack.temporal, stack.config);
    const handle = stack.temporal.schedule.getHandle(RECONCILE_SCHEDULE_ID);
    const described = await handle.describe();
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileWorkflow' });
    expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    await handle.pause('test: paused by support');
    expect((await handle.describe()).state.paused).toBe(true);
    await handle.unpause();
    expect((await handle.describe()).state.paused).toBe(false);
    // a schedule this suite created points at its worker's task queue, gone after the suite
    if (described.action.type === 'startWorkflow' && described.action.taskQueue === stack.config.temporal.taskQueue) await handle.delete();
  });
});
