import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { LocalGateway } from '../../activities/gateways/local-gateway';
import { GatewayUnavailableError, PaymentDeclinedError, PaymentRejectedError } from '../../activities/gateways/payment-gateway';
import { paymentTokenSchema } from '../../api/schemas/checkouts';
import Stripe from 'stripe';
import { StripeGateway, stateOf } from '../../activities/gateways/stripe-gateway';
import { loadConfig } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { localGatewayOperations } from '../../db/schema/payment';
import { stripeMock } from '../helpers/stripe-mock';

const key = (step: string) => `test/${randomBytes(6).toString('hex')}/${step}`;
const usd = (amount: number) => ({ amount, currency: 'USD' });

// The check POST /checkouts runs (api/schemas/checkouts.ts): a card number never reaches a gateway.
describe('payment tokens at the edge', () => {
  it.each(['tok_visa', 'pm_card_visa', 'tok_chargeDeclined'])('accepts %s', (t) => expect(paymentTokenSchema.safeParse(t).success).toBe(true));
  it.each(['4242424242424242', '4242 4242 4242 4242', '', 'tok_', 'visa', `tok_${'a'.repeat(300)}`])('refuses %j', (t) =>
    expect(paymentTokenSchema.safeParse(t).success).toBe(false),
  );
});

describe('local gateway', () => {
  let dbs: Databases;
  let gateway: LocalGateway;
  beforeAll(() => {
    dbs = createDatabases(loadConfig({ ...process.env, ORDERLY_MODE: 'test' }));
    gateway = new LocalGateway(dbs.payment, { slowResponseMs: 300 });
  });
  afterAll(async () => {
    await dbs?.close();
  });
  const ledger = (ref: string) => dbs.payment.select().from(localGatewayOperations).where(eq(localGatewayOperations.paymentRef, ref));

  it('declines the decline test tokens with their codes', async () => {
    await expect(gateway.authorize({ idempotencyKey: key('a'), ...usd(100), paymentToken: 'tok_chargeDeclined', reference: 'r' })).rejects.toMatchObject({
      declineCode: 'card_declined',
    });
    await expect(gateway.authorize({ idempotencyKey: key('a'), ...usd(100), paymentToken: 'tok_insufficient_funds', reference: 'r' })).rejects.toBeInstanceOf(
      PaymentDeclinedError,
    );
  });

  it('the same idempotency key returns the same authorization and writes one ledger row', async () => {
    const k = key('authorize');
    const a = await gateway.authorize({ idempotencyKey: k, ...usd(500), paymentToken: 'tok_visa', reference: 'r' });
    const b = await gateway.authorize({ idempotencyKey: k, ...usd(500), paymentToken: 'tok_visa', reference: 'r' });
    expect(b).toEqual(a);
    expect(await ledger(a.ref)).toHaveLength(1);
  });

  it('tok_timeout authorizes first and answers late; the retry gets the same authorization at once', async () => {
    const k = key('authorize');
    const started = Date.now();
    const first = await gateway.authorize({ idempotencyKey: k, ...usd(700), paymentToken: 'tok_timeout', reference: 'r' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const retryStarted = Date.now();
    const retry = await gateway.authorize({ idempotencyKey: k, ...usd(700), paymentToken: 'tok_timeout', reference: 'r' });
    expect(Date.now() - retryStarted).toBeLessThan(300);
    expect(retry.ref).toBe(first.ref);
    expect((await ledger(first.ref)).filter((o) => o.operation === 'authorize')).toHaveLength(1);
  });

  it('refuses to capture more than authorized, to capture a voided payment, and to refund beyond the capture', async () => {
    const a = await gateway.authorize({ idempotencyKey: key('authorize'), ...usd(1000), paymentToken: 'tok_visa', reference: 'r' });
    await expect(gateway.capture({ idempotencyKey: key('capture'), ref: a.ref, ...usd(1001) })).rejects.toBeInstanceOf(PaymentRejectedError);
    await gateway.capture({ idempotencyKey: key('capture'), ref: a.ref, ...usd(1000) });
    await gateway.refund({ idempotencyKey: key('refund'), ref: a.ref, ...usd(600) });
    await expect(gateway.refund({ idempotencyKey: key('refund'), ref: a.ref, ...usd(401) })).rejects.toBeInstanceOf(PaymentRejectedError);
    await expect(gateway.void({ idempotencyKey: key('void'), ref: a.ref })).rejects.toBeInstanceOf(PaymentRejectedError);

    const b = await gateway.authorize({ idempotencyKey: key('authorize'), ...usd(200), paymentToken: 'tok_visa', reference: 'r' });
    await gateway.void({ idempotencyKey: key('void'), ref: b.ref });
    await gateway.void({ idempotencyKey: key('void'), ref: b.ref });
    await expect(gateway.capture({ idempotencyKey: key('capture'), ref: b.ref, ...usd(200) })).rejects.toBeInstanceOf(PaymentRejectedError);
  });

  it('the fault switch fails the next calls with a 500, then recovers', async () => {
    const faulty = new LocalGateway(dbs.payment, { slowResponseMs: 10 });
    faulty.setFaults({ count: 2, mode: '500' });
    const req = { idempotencyKey: key('authorize'), ...usd(100), paymentToken: 'tok_visa', reference: 'r' };
    await expect(faulty.authorize(req)).rejects.toBeInstanceOf(GatewayUnavailableError);
    await expect(faulty.authorize(req)).rejects.toBeInstanceOf(GatewayUnavailableError);
    await expect(faulty.authorize(req)).resolves.toMatchObject({ amount: 100 });
  });
});

describe('stripe gateway against stripe-mock', () => {
  let config: ReturnType<typeof loadConfig>;
  let gateway: StripeGateway;
  let mock: Awaited<ReturnType<typeof stripeMock>> | undefined;
  const sentKeys: string[] = [];
  beforeAll(async () => {
    mock = await stripeMock(process.env.STRIPE_API_BASE);
    config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', PAYMENT_GATEWAY: 'stripe', STRIPE_API_KEY: 'sk_test_orderly', STRIPE_API_BASE: mock.base });
    gateway = new StripeGateway(config.payment);
    gateway.client.on('request', (event: { idempotency_key?: string }) => {
      if (event.idempotency_key) sentKeys.push(event.idempotency_key);
    });
  });
  afterAll(() => mock?.stop());

  // stripe-mock is stateless: its answers are fixtures (a created intent always reads
  // requires_payment_method), so these prove the requests are ones Stripe's API accepts and
  // that answers map to our shape — not what a real account would hold.
  it('creates a manual-capture intent with our key; reads its status: the fixture (requires_payment_method) is a decline with the gateway code', async () => {
    const k = key('authorize');
    const err = await gateway.authorize({ idempotencyKey: k, ...usd(1500), paymentToken: 'pm_card_visa', reference: 'chk_1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PaymentDeclinedError);
    expect(sentKeys).toContain(k);
    await expect(gateway.readAuthorization('pi_123')).resolves.toMatchObject({ ref: expect.stringMatching(/^pi_/), status: 'declined', currency: expect.stringMatching(/^[A-Z]{3}$/) });
  });

  it('captures, refunds and voids an intent, sending our idempotency keys', async () => {
    const captureKey = key('capture');
    await expect(gateway.capture({ idempotencyKey: captureKey, ref: 'pi_123', ...usd(1500) })).resolves.toMatchObject({ ref: expect.stringMatching(/^pi_/) });
    const refundKey = key('refund');
    await expect(gateway.refund({ idempotencyKey: refundKey, ref: 'pi_123', ...usd(500) })).resolves.toMatchObject({ refundRef: expect.stringMatching(/^re_/) });
    const voidKey = key('void');
    await gateway.void({ idempotencyKey: voidKey, ref: 'pi_123' });
    expect(sentKeys).toEqual(expect.arrayContaining([captureKey, refundKey, voidKey]));
  });

  it('maps every intent status the way Stripe documents it (requires_action carries the client secret)', async () => {
    const fixture = await gateway.client.paymentIntents.retrieve('pi_123');
    const as = (status: Stripe.PaymentIntent.Status, extra: Partial<Stripe.PaymentIntent> = {}) => stateOf({ ...fixture, status, ...extra });
    expect(as('requires_capture')).toMatchObject({ status: 'authorized', amount: fixture.amount });
    expect(as('requires_action', { client_secret: 'pi_123_secret_abc' })).toMatchObject({ status: 'requires_action', clientSecret: 'pi_123_secret_abc' });
    expect(as('processing').status).toBe('processing');
    expect(as('succeeded').status).toBe('captured');
    expect(as('canceled').status).toBe('canceled');
    const failed = as('requires_payment_method', { last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' } as Stripe.PaymentIntent.LastPaymentError });
    expect(failed).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
    // the adapter never hands out more than the client secret
    expect(JSON.stringify(as('requires_action', { client_secret: 'pi_123_secret_abc' }))).not.toContain('sk_test');
  });

  it('answers the gateway lookups reconciliation and compensation rely on (intent, search by reference, refunds by key)', async () => {
    const seen = await gateway.lookupPayment('pi_123');
    expect(seen).toMatchObject({ ref: expect.stringMatching(/^pi_/), currency: expect.stringMatching(/^[A-Z]{3}$/), voided: expect.any(Boolean) });
    for (const n of [seen?.authorized, seen?.captured, seen?.refunded]) expect(Number.isInteger(n)).toBe(true);
    // the search request is accepted; stripe-mock's fixture intents never carry our reference
    await expect(gateway.findAuthorization({ idempotencyKey: key('authorize'), reference: 'chk_lookup' })).resolves.toBeUndefined();
    await expect(gateway.findRefund({ ref: 'pi_123', idempotencyKey: `never-used-${key('refund')}` })).resolves.toBeUndefined();
  });

  it('maps an unreachable API to GatewayUnavailableError, so Temporal retries it', async () => {
    const down = new StripeGateway({ ...config.payment, stripeApiBase: 'http://127.0.0.1:9' });
    await expect(down.authorize({ idempotencyKey: key('authorize'), ...usd(1), paymentToken: 'pm_card_visa', reference: 'r' })).rejects.toBeInstanceOf(
      GatewayUnavailableError,
    );
  });
});
