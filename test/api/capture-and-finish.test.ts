import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq, like, sql } from 'drizzle-orm';
import { createActivities } from '../../activities';
import type { PricedCart } from '../../domain/cart';
import { holds, stock } from '../../db/schema/inventory';
import { localGatewayOperations as ops, payments } from '../../db/schema/payment';
import { getFrozenCart } from '../../db/stores/checkouts';
import { checkoutStatusQuery } from '../../workflows/messages';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { caughtMail } from '../helpers/mail';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * The capture and the steps after it as one activity (patch checkout-capture-and-finish,
 * activities/checkout-finish.ts captureAndFinishPaidCheckout). A refusal after the capture
 * succeeded (here: the hold lapsed and its stock was sold while the activity was about to run,
 * so the stock commit is out_of_stock) parks the finishing step, not the capture: the
 * authorization's expiry no longer applies, support's retry re-runs only finishPaidCheckout,
 * and no second capture is ever sent, whatever key a retry carries.
 */
describe('capture and finish in one activity: a refusal after the capture (real Temporal, Postgres, gateway ledger, SMTP)', () => {
  let stack: Stack;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      env: {
        CHECKOUT_WAIT_MS: '15000',
        // the authorization "expires" 6 s after authorizing (validity 1 h + 6 s, cancelled 1 h before)
        AUTHORIZATION_VALIDITY_HOURS: String(1 + 6 / 3600),
        // the activity's first attempt waits: the test sells the held stock meanwhile
        FAULT_PAUSE_BEFORE: 'captureAndFinishPaidCheckout',
        FAULT_PAUSE_MS: '2500',
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const capturesOf = async (checkoutId: string) =>
    (await stack.dbs.payment.select().from(ops).where(and(eq(ops.operation, 'capture'), like(ops.idempotencyKey, `%/${checkoutId}/%`)))).map((o) => o.idempotencyKey);
  const stockOf = async (sku: string) => (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0];
  const activityTypes = async (handle: ReturnType<Stack['temporal']['workflow']['getHandle']>) =>
    ((await handle.fetchHistory()).events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));

  /** A checkout answered 201 whose stock is sold elsewhere before its capture-and-finish runs: parked after the capture. */
  async function parkedAfterCapture(tag: string) {
    const sku = await createProduct(stack.dbs, { priceAmount: 1100, onHand: 2 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
    const email = `${tag}-${Date.now()}@example.com`;
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `${tag}-${cartId}` }, body: { cartId, email, paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    const checkoutId = res.body.checkoutId as string;
    const orderId = res.body.orderId as string;
    // the hold lapses (the sweep gives the stock back) and the units are sold elsewhere
    await stack.dbs.inventory.update(holds).set({ status: 'expired' }).where(eq(holds.holdId, checkoutId));
    await stack.dbs.inventory.update(stock).set({ onHand: 0, reserved: sql`${stock.reserved} - 2`, sold: sql`${stock.sold} + 2` }).where(eq(stock.sku, sku));
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    const view = await eventually(async () => {
      const v = await handle.query(checkoutStatusQuery);
      return v.step === 'needs_attention' ? v : undefined;
    }, 30_000, 'parked');
    return { sku, cartId, checkoutId, orderId, email, handle, view };
  }

  it('parks the finishing step (not the capture): no expiry, one capture even for a retry under another key, support retry re-runs only the finishing', async () => {
    const { sku, cartId, checkoutId, orderId, email, handle, view } = await parkedAfterCapture('cf-retry');
    expect(view).toMatchObject({ parkedStep: 'committing_stock', lastError: expect.stringContaining('out_of_stock') });
    expect(await capturesOf(checkoutId)).toEqual([expect.stringMatching(/\/capture$/)]);
    // (the order is marked by the parking's own activity, just after the view shows it parked)
    await eventually(async () => ((await stack.http('GET', `/orders/${orderId}`)).body.status === 'needs_attention' ? true : undefined), 30_000, 'the order needs attention');

    // a retry of the activity under another key (as support's retry of a capture would send), without
    // the first attempt's heartbeat (a lost worker): the ledger shows the capture, no second one is sent
    const activities = createActivities(stack.activityDeps as NonNullable<Stack['activityDeps']>);
    const cart = (await getFrozenCart(stack.dbs.order, checkoutId)) as PricedCart;
    await expect(
      new MockActivityEnvironment({ attempt: 2 }).run(activities.captureAndFinishPaidCheckout, {
        checkoutId,
        orderId,
        cartId,
        email,
        cart,
        captureKey: `checkout-${cartId}/${checkoutId}/capture/retry-1`,
      }),
    ).rejects.toMatchObject({ type: 'out_of_stock', nonRetryable: true, details: [{ capturedBeforeRefusal: true }] });
    expect(await capturesOf(checkoutId)).toHaveLength(1);

    // past the authorization's expiry (6 s after authorizing): the capture is done, so the parked finishing is not cancelled
    await new Promise((r) => setTimeout(r, 8_000));
    expect(await handle.query(checkoutStatusQuery)).toMatchObject({ step: 'needs_attention', parkedStep: 'committing_stock' });
    expect((await handle.describe()).status.name).toBe('RUNNING');

    // support restocks and retries: only the finishing runs again
    await stack.dbs.inventory.update(stock).set({ onHand: 2 }).where(eq(stock.sku, sku));
    expect((await stack.http('POST', `/admin/orders/${orderId}/retry`, { headers: admin })).status).toBe(202);
    expect(await handle.result()).toMatchObject({ status: 'placed', orderId });
    await recordHistory(handle, 'checkoutWorkflow', 'capture-and-finish-parked-finishing-then-retried');
    expect(await activityTypes(handle)).toEqual(['captureAndFinishPaidCheckout', 'markOrderNeedsAttention', 'resumeOrder', 'finishPaidCheckout']);
    expect(await capturesOf(checkoutId)).toHaveLength(1);
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('paid');
    expect(await stockOf(sku)).toMatchObject({ onHand: 0, reserved: 0, sold: 4 });
    expect((await caughtMail()).filter((m) => m.to.includes(email))).toHaveLength(1);
  }, 90_000);

  it("support's cancel of the parked finishing refunds the capture, cancels the order and tells the customer once", async () => {
    const { checkoutId, orderId, email, handle, view } = await parkedAfterCapture('cf-cancel');
    expect(view.parkedStep).toBe('committing_stock');
    expect((await stack.http('POST', `/admin/orders/${orderId}/cancel`, { headers: admin, body: { reason: 'stock sold elsewhere' } })).status).toBe(202);
    expect(await handle.result()).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    await recordHistory(handle, 'checkoutWorkflow', 'capture-and-finish-parked-finishing-then-cancelled');
    expect(await capturesOf(checkoutId)).toHaveLength(1);
    const refunds = await stack.dbs.payment.select().from(ops).where(and(eq(ops.operation, 'refund'), like(ops.idempotencyKey, `%/${checkoutId}/%`)));
    expect(refunds).toHaveLength(1);
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    expect(payment?.status).toBe('refunded');
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('cancelled');
    const mine = await eventually(async () => {
      const m = (await caughtMail()).filter((x) => x.to.includes(email));
      return m.length > 0 ? m : undefined;
    }, 20_000, 'the notice');
    expect(mine).toHaveLength(1);
  }, 90_000);
});
