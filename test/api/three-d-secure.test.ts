import { eq } from 'drizzle-orm';
import { orders } from '../../db/schema/order';
import { paymentEventSignal } from '../../workflows/messages';
import { eventually } from '../helpers/eventually';
import { mailTo } from '../helpers/mail';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { threeDSecureShop } from '../helpers/three-d-secure';

/**
 * 3-D Secure on the local gateway, which behaves as Stripe does: the authorize call answers
 * requires_action with a client secret, the customer passes (or fails) the step on the
 * processor's page, the storefront confirms, and only the gateway's word counts.
 */
describe('3-D Secure: 202 with the next action, confirm, wait, compensation (real Temporal, Postgres, Redis, SMTP)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '15000', PAYMENT_ACTION_TIMEOUT_MINUTES: '0.05' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const { cartWith, checkout, authenticate, confirm, opsOf, stockOf } = threeDSecureShop(() => stack);

  it('passed: 202 with nextAction (never a secret key), confirm → 201 placed, captured once, stock sold', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 2500, onHand: 5 });
    const cartId = await cartWith(sku, 2);
    const email = `tds-pass-${Date.now()}@example.com`;
    const first = await checkout(cartId, 'tds-pass', email);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      status: 'pending',
      total: { amount: 5000, currency: 'USD' },
      nextAction: { type: 'use_stripe_sdk', clientSecret: expect.stringMatching(/^lpi_.+_secret_[0-9a-f]+$/) },
      confirmUrl: `/checkouts/${first.body.checkoutId}/confirm`,
    });
    expect(JSON.stringify(first.body)).not.toMatch(/sk_(test|live)_/);
    const checkoutId = first.body.checkoutId as string;
    // the storefront polling sees the same next action, and stock is held meanwhile
    const polled = await stack.http('GET', `/checkouts/${checkoutId}`);
    expect(polled.body).toMatchObject({ status: 'pending', step: 'awaiting_payment', nextAction: first.body.nextAction });
    expect(await stockOf(sku)).toMatchObject({ reserved: 2, sold: 0 });
    // a replay of the POST answers the same 202
    const replay = await checkout(cartId, 'tds-pass', email);
    expect(replay.status).toBe(202);
    expect(replay.body.nextAction).toEqual(first.body.nextAction);

    // confirm before the customer acted: still waiting, same next action
    const early = await confirm(checkoutId);
    expect(early.status).toBe(202);
    expect(early.body.nextAction).toEqual(first.body.nextAction);

    expect((await authenticate(first.body.nextAction.clientSecret)).body).toMatchObject({ status: 'authorized' });
    const confirmed = await confirm(checkoutId);
    expect(confirmed.status).toBe(201);
    expect(confirmed.body).toMatchObject({ status: 'placed', orderId: expect.any(String), total: { amount: 5000 } });
    expect(confirmed.body.nextAction).toBeUndefined();

    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await handle.result();
    await recordHistory(handle, 'checkoutWorkflow', 'three-d-secure-passed');
    expect(await opsOf(checkoutId, 'capture')).toHaveLength(1);
    expect(await stockOf(sku)).toMatchObject({ onHand: 3, reserved: 0, sold: 2 });
    const order = await stack.http('GET', `/orders/${confirmed.body.orderId}`);
    expect(order.body).toMatchObject({ status: 'paid', payment: { authorized: { amount: 5000 }, captured: { amount: 5000 } } });
    // a confirm after the end answers like a replay
    expect((await confirm(checkoutId)).status).toBe(201);
    expect(await mailTo(email)).toHaveLength(1);
  });

  it('failed: confirm → 402 payment_declined (authentication_failed), hold released, intent cancelled, one email', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 4 });
    const cartId = await cartWith(sku, 1);
    const email = `tds-fail-${Date.now()}@example.com`;
    const first = await checkout(cartId, 'tds-fail', email, 'tok_threeDSecure2Fails');
    expect(first.status).toBe(202);
    const checkoutId = first.body.checkoutId as string;
    // the customer "passes" but this card always fails the step
    expect((await authenticate(first.body.nextAction.clientSecret, 'pass')).body).toMatchObject({ status: 'declined' });
    const res = await confirm(checkoutId);
    expect(res.status).toBe(402);
    expect(res.body.error).toMatchObject({ code: 'payment_declined', details: { declineCode: 'authentication_failed', checkoutId } });
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await handle.result();
    await recordHistory(handle, 'checkoutWorkflow', 'three-d-secure-failed');
    expect(await stockOf(sku)).toMatchObject({ onHand: 4, reserved: 0, sold: 0 });
    expect(await opsOf(checkoutId, 'capture')).toHaveLength(0);
    expect(await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId))).toHaveLength(0);
    await eventually(async () => ((await mailTo(email)).length > 0 ? true : undefined), 20_000, 'the failure notice');
    await new Promise((r) => setTimeout(r, 500));
    expect(await mailTo(email)).toHaveLength(1);
    // the cart can be checked out again with another card
    const again = await checkout(cartId, 'tds-fail-2', email, 'tok_visa');
    expect(again.status).toBe(201);
  });

  it('abandoned: after the wait the checkout is compensated (hold released, intent cancelled) and the customer emailed once', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 2 });
    const cartId = await cartWith(sku, 2);
    const email = `tds-abandon-${Date.now()}@example.com`;
    const first = await checkout(cartId, 'tds-abandon', email);
    expect(first.status).toBe(202);
    const checkoutId = first.body.checkoutId as string;
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    const outcome = await handle.result();
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'payment_action_expired' } });
    await recordHistory(handle, 'checkoutWorkflow', 'three-d-secure-abandoned');
    expect(await opsOf(checkoutId, 'void')).toHaveLength(1);
    expect(await stockOf(sku)).toMatchObject({ onHand: 2, reserved: 0 });
    // the customer may still try the step: the cancelled intent can no longer authorize
    const late = await authenticate(first.body.nextAction.clientSecret);
    expect(late.body.status).not.toBe('authorized');
    const status = await stack.http('GET', `/checkouts/${checkoutId}`);
    expect(status.body).toMatchObject({ status: 'failed', failure: { code: 'payment_action_expired' } });
    const mine = await eventually(async () => ((await mailTo(email)).length > 0 ? mailTo(email) : undefined), 20_000, 'the failure notice');
    expect(mine).toHaveLength(1);
    expect(mine[0]?.text).toContain('3-D Secure');
    expect(mine[0]?.text).toContain('not charged');
  });

  it('a payment method the gateway does not know → 422 payment_method_invalid, not a 5xx', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 2 });
    const cartId = await cartWith(sku, 1);
    const res = await checkout(cartId, 'tds-unknown-pm', `pm-${Date.now()}@example.com`, 'tok_unknownPaymentMethod');
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('payment_method_invalid');
    expect(await stockOf(sku)).toMatchObject({ reserved: 0 });
  });

  it('confirm and payment events arriving at the same moment (50 runs): one capture, one order each', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 1000 });
    const race = async (i: number) => {
        const cartId = await cartWith(sku, 1);
        const first = await checkout(cartId, `tds-race-${i}`, `race-${i}@example.com`);
        expect(first.status).toBe(202);
        const checkoutId = first.body.checkoutId as string;
        // under load the POST may answer before the next action is known: the storefront polls
        const nextAction = first.body.nextAction ?? (await eventually(async () => (await stack.http('GET', `/checkouts/${checkoutId}`)).body.nextAction, 30_000, 'the next action'));
        await authenticate(nextAction.clientSecret);
        const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
        const event = (n: number) => handle.signal(paymentEventSignal, { eventId: `evt_race_${i}_${n % 2}`, checkoutId, type: 'payment_intent.amount_capturable_updated' });
        const [a, b] = await Promise.all([confirm(checkoutId), confirm(checkoutId), event(0), event(1), event(2)]);
        expect([a.status, b.status]).toEqual([201, 201]);
        expect(a.body.orderId).toBe(b.body.orderId);
        await handle.result();
        expect(await opsOf(checkoutId, 'capture')).toHaveLength(1);
        expect(await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId))).toHaveLength(1);
    };
    for (let batch = 0; batch < 5; batch += 1) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => race(batch * 10 + j)));
    }
    expect(await stockOf(sku)).toMatchObject({ onHand: 950, reserved: 0, sold: 50 });
  }, 240_000);

  it('a cancel while the payment waits for the customer compensates: intent cancelled, stock released', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 3 });
    const cartId = await cartWith(sku, 3);
    const first = await checkout(cartId, 'tds-cancel', `tds-cancel-${Date.now()}@example.com`);
    expect(first.status).toBe(202);
    const checkoutId = first.body.checkoutId as string;
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await handle.cancel();
    expect(await handle.result()).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    expect(await opsOf(checkoutId, 'void')).toHaveLength(1);
    expect(await stockOf(sku)).toMatchObject({ onHand: 3, reserved: 0 });
    // the customer passing the step afterwards changes nothing
    await authenticate(first.body.nextAction.clientSecret);
    expect(await opsOf(checkoutId, 'capture')).toHaveLength(0);
    expect((await confirm(checkoutId)).status).toBe(409);
  });

  it('confirm of an unknown checkout → 404; of a malformed id → 400', async () => {
    expect((await confirm('00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await confirm('not%ZZan-id')).status).toBe(400);
  });
});
