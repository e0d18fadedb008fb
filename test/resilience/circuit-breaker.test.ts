import { MockActivityEnvironment } from '@temporalio/testing';
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Redis } from 'ioredis';
import { createActivities, type ActivityDeps, type OrderlyActivities } from '../../activities';
import { withPaymentBreaker } from '../../activities/gateways/breaker-gateway';
import { isSmtpOutage } from '../../activities/gateways/breaker-mailer';
import { LocalGateway } from '../../activities/gateways/local-gateway';
import { GatewayUnavailableError, PaymentDeclinedError } from '../../activities/gateways/payment-gateway';
import { loadConfig } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { CircuitBreaker, CircuitBreakers, CircuitOpenError, isCircuitOpen, type BreakerSettings } from '../../db/stores/circuit-breakers';
import { createLogger } from '../../logger';
import { buildActivityDeps } from '../../workers/deps';
import { closedPort } from '../helpers/app';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const outage = () => Promise.reject(new GatewayUnavailableError('503 from the processor'));
const decline = () => Promise.reject(new PaymentDeclinedError('card_declined'));
const ok = () => Promise.resolve('ok');
const isOutage = (err: unknown) => err instanceof GatewayUnavailableError;

/** Real Redis; every test its own namespace, so breakers never meet across tests or suites. */
describe('circuit breaker (state in Redis, shared by every process)', () => {
  let redis: Redis;
  let other: Redis;
  const settings: BreakerSettings = { failureThreshold: 3, windowMs: 1_000, cooldownMs: 400, probeLeaseMs: 2_000 };
  const breaker = (r: Redis, ns: string, s: Partial<BreakerSettings> = {}) => new CircuitBreaker(r, 'payment_gateway', ns, { ...settings, ...s });
  const ns = () => `t-${randomBytes(5).toString('hex')}`;

  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL as string);
    // A second connection stands for a second process (another worker, or the API).
    other = new Redis(process.env.REDIS_URL as string);
  });
  afterAll(() => {
    redis.disconnect();
    other.disconnect();
  });

  /** Runs `call` and returns what it threw (or 'ok'). */
  const attempt = (b: CircuitBreaker, call: () => Promise<unknown>, opts: Partial<Parameters<CircuitBreaker['run']>[1]> = {}) =>
    b.run(call, { isOutage, ...opts }).then(
      () => 'ok' as const,
      (err: unknown) => err,
    );

  it('opens after N outage failures within the window, then refuses at once without calling', async () => {
    const b = breaker(redis, ns());
    for (let i = 0; i < 2; i++) expect(await attempt(b, outage)).toBeInstanceOf(GatewayUnavailableError);
    expect((await b.snapshot()).state).toBe('closed');
    expect(await attempt(b, outage)).toBeInstanceOf(GatewayUnavailableError);
    expect(await b.snapshot()).toMatchObject({ state: 'open', opens: 1 });

    let called = false;
    const started = Date.now();
    const refused = await attempt(b, async () => {
      called = true;
      return 'x';
    });
    expect(Date.now() - started).toBeLessThan(100);
    expect(called).toBe(false);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(isCircuitOpen(refused)).toBe(true);
    expect((refused as CircuitOpenError).retryAfterMs).toBeGreaterThan(0);
    expect((refused as CircuitOpenError).retryAfterMs).toBeLessThanOrEqual(400);
  });

  it('failures older than the window do not add up', async () => {
    const b = breaker(redis, ns(), { windowMs: 300 });
    await attempt(b, outage);
    await attempt(b, outage);
    await sleep(350);
    await attempt(b, outage);
    expect(await b.snapshot()).toMatchObject({ state: 'closed', failures: 1 });
  });

  it('a decline (or any business answer) never counts: the gateway answered', async () => {
    const b = breaker(redis, ns());
    for (let i = 0; i < 10; i++) expect(await attempt(b, decline)).toBeInstanceOf(PaymentDeclinedError);
    expect(await b.snapshot()).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('a call slower than its timeout counts as an outage and fails with the caller\'s error', async () => {
    const b = breaker(redis, ns(), { failureThreshold: 1 });
    const slow = () => sleep(500).then(() => 'late');
    const err = await attempt(b, slow, { timeoutMs: 50, onTimeout: () => new GatewayUnavailableError('no answer') });
    expect(err).toBeInstanceOf(GatewayUnavailableError);
    expect((await b.snapshot()).state).toBe('open');
  });

  it('after the cool-down one caller probes (half-open) while the others are still refused; a good probe closes it', async () => {
    const name = ns();
    const a = breaker(redis, name);
    const b = breaker(other, name);
    for (let i = 0; i < 3; i++) await attempt(a, outage);
    await sleep(450);
    let release!: () => void;
    const probeCall = new Promise<string>((resolve) => {
      release = () => resolve('ok');
    });
    const probe = attempt(a, () => probeCall);
    await sleep(50);
    expect((await b.snapshot()).state).toBe('half_open');
    // concurrent callers in any process are refused while the probe is out
    const during = await Promise.all([attempt(b, ok), attempt(a, ok), attempt(b, ok)]);
    for (const r of during) expect(r).toBeInstanceOf(CircuitOpenError);
    release();
    expect(await probe).toBe('ok');
    expect(await b.snapshot()).toMatchObject({ state: 'closed', failures: 0 });
    expect(await attempt(b, ok)).toBe('ok');
  });

  it('a failed probe opens it again for a full cool-down', async () => {
    const b = breaker(redis, ns());
    for (let i = 0; i < 3; i++) await attempt(b, outage);
    await sleep(450);
    expect(await attempt(b, outage)).toBeInstanceOf(GatewayUnavailableError);
    const s = await b.snapshot();
    expect(s).toMatchObject({ state: 'open', opens: 2 });
    expect(s.retryAfterMs).toBeGreaterThan(300);
    expect(await attempt(b, ok)).toBeInstanceOf(CircuitOpenError);
  });

  it('a probe answered with a decline closes it: the service is up', async () => {
    const b = breaker(redis, ns());
    for (let i = 0; i < 3; i++) await attempt(b, outage);
    await sleep(450);
    expect(await attempt(b, decline)).toBeInstanceOf(PaymentDeclinedError);
    expect((await b.snapshot()).state).toBe('closed');
  });

  it('a probe whose process died frees the probe after its lease', async () => {
    const b = breaker(redis, ns(), { probeLeaseMs: 300 });
    for (let i = 0; i < 3; i++) await attempt(b, outage);
    await sleep(450);
    // takes the probe and never reports (its process "died")
    void attempt(b, () => new Promise(() => undefined));
    await sleep(50);
    expect(await attempt(b, ok)).toBeInstanceOf(CircuitOpenError);
    await sleep(300);
    expect(await attempt(b, ok)).toBe('ok');
    expect((await b.snapshot()).state).toBe('closed');
  });

  it('refusal() tells the API without taking the probe', async () => {
    const b = breaker(redis, ns());
    expect(await b.refusal()).toBeUndefined();
    for (let i = 0; i < 3; i++) await attempt(b, outage);
    expect(await b.refusal()).toBeInstanceOf(CircuitOpenError);
    await sleep(450);
    expect(await b.refusal()).toBeUndefined(); // the probe is due: let the checkout be it
    expect((await b.snapshot()).state).toBe('open');
  });

  it('without Redis the call goes through (the breaker cannot decide, so it does not refuse)', async () => {
    const dead = new Redis({ port: await closedPort(), maxRetriesPerRequest: 0, lazyConnect: true, enableOfflineQueue: false });
    dead.on('error', () => undefined);
    try {
      const b = breaker(dead, ns());
      const started = Date.now();
      expect(await attempt(b, ok)).toBe('ok');
      expect(await attempt(b, outage)).toBeInstanceOf(GatewayUnavailableError);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      dead.disconnect();
    }
  });

  it('all breakers\' states in one call (for /health and metrics)', async () => {
    const circuit = { ...loadConfig({ ...process.env, ORDERLY_MODE: 'test' }).circuit, namespace: ns(), failureThreshold: 1 };
    const breakers = new CircuitBreakers(redis, circuit);
    await attempt(breakers.smtp, outage);
    const states = await breakers.states();
    expect(states.map((s) => [s.name, s.state])).toEqual([
      ['payment_gateway', 'closed'],
      ['smtp', 'open'],
      ['search', 'closed'],
    ]);
  });

  it('counts nodemailer\'s connection failures as SMTP outages, not a refused recipient', () => {
    expect(isSmtpOutage(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNECTION' }))).toBe(true);
    expect(isSmtpOutage(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }))).toBe(true);
    expect(isSmtpOutage(Object.assign(new Error('421 try later'), { code: 'EENVELOPE', responseCode: 421 }))).toBe(true);
    expect(isSmtpOutage(Object.assign(new Error('550 no such user'), { code: 'EENVELOPE', responseCode: 550 }))).toBe(false);
  });
});

describe('the payment gateway behind its breaker (real local gateway, real ledger)', () => {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test' });
  let redis: Redis;
  let dbs: Databases;
  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL as string);
    dbs = createDatabases(config);
  });
  afterAll(async () => {
    redis.disconnect();
    await dbs.close();
  });
  const setup = () => {
    const breaker = new CircuitBreaker(redis, 'payment_gateway', `t-${randomBytes(5).toString('hex')}`, {
      failureThreshold: 2,
      windowMs: 5_000,
      cooldownMs: 300,
      probeLeaseMs: 2_000,
    });
    const local = new LocalGateway(dbs.payment);
    return { breaker, local, gateway: withPaymentBreaker(local, breaker, { timeoutMs: 2_000 }) };
  };
  const auth = (token = 'tok_visa') => ({
    idempotencyKey: `breaker-${randomBytes(8).toString('hex')}`,
    amount: 500,
    currency: 'USD',
    paymentToken: token,
    reference: 'chk_breaker',
  });

  it('keeps the class (instanceof) and the harness hooks, and declines do not open it', async () => {
    const { gateway, breaker } = setup();
    expect(gateway).toBeInstanceOf(LocalGateway);
    for (let i = 0; i < 4; i++) await expect(gateway.authorize(auth('tok_chargeDeclined'))).rejects.toBeInstanceOf(PaymentDeclinedError);
    expect((await breaker.snapshot()).state).toBe('closed');
  });

  it('500s open it; while open every method (reads too) fails fast with a GatewayUnavailableError; the probe closes it after recovery', async () => {
    const { gateway, local, breaker } = setup();
    local.setFaults({ mode: '500', count: 2 });
    await expect(gateway.authorize(auth())).rejects.toBeInstanceOf(GatewayUnavailableError);
    await expect(gateway.authorize(auth())).rejects.toBeInstanceOf(GatewayUnavailableError);
    expect((await breaker.snapshot()).state).toBe('open');

    const started = Date.now();
    const refused = await gateway.lookupPayment('lpi_nothing').catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(100);
    expect(refused).toBeInstanceOf(GatewayUnavailableError);
    expect(isCircuitOpen(refused)).toBe(true);
    // the ledger holds no authorization for a refused call: it never reached the gateway
    const key = auth();
    await expect(gateway.authorize(key)).rejects.toBeInstanceOf(GatewayUnavailableError);
    expect(await local.findAuthorization(key)).toBeUndefined();

    await sleep(350);
    const probe = await gateway.authorize(auth());
    expect(probe.ref).toMatch(/^lpi_/);
    expect((await breaker.snapshot()).state).toBe('closed');
  });

  it('a method the interface gains later is guarded without a change to the wrapper', async () => {
    const { breaker } = setup();
    class NewerGateway extends LocalGateway {
      calls = 0;
      async confirmThreeDSecure(): Promise<string> {
        this.calls += 1;
        throw new GatewayUnavailableError('down');
      }
    }
    const newer = new NewerGateway(dbs.payment);
    const gateway = withPaymentBreaker(newer, breaker, { timeoutMs: 2_000 });
    for (let i = 0; i < 4; i++) await expect(gateway.confirmThreeDSecure()).rejects.toBeInstanceOf(GatewayUnavailableError);
    expect(newer.calls).toBe(2);
    expect((await breaker.snapshot()).state).toBe('open');
  });
});

describe('the checkout\'s authorization while the gateway breaker is open (real activities, ledger, Redis)', () => {
  const namespace = `t-${randomBytes(5).toString('hex')}`;
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', CIRCUIT_NAMESPACE: namespace, CIRCUIT_FAILURE_THRESHOLD: '1', CIRCUIT_COOLDOWN_MS: '60000' });
  let redis: Redis;
  let dbs: Databases;
  let activities: OrderlyActivities;
  let deps: ActivityDeps;
  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL as string);
    dbs = createDatabases(config);
    deps = buildActivityDeps({ config, logger: createLogger('silent'), dbs, redis });
    activities = createActivities(deps);
  });
  afterAll(async () => {
    deps.mailer.close();
    redis.disconnect();
    await dbs.close();
  });
  const voidOf = (a: { checkoutId: string; idempotencyKey: string; amount: { amount: number; currency: string }; paymentToken: string }) => ({
    checkoutId: a.checkoutId,
    idempotencyKey: `wf/${a.checkoutId}/void`,
    authorization: a,
  });
  const authorization = () => {
    const checkoutId = `chk_${randomBytes(8).toString('hex')}`;
    return { checkoutId, idempotencyKey: `wf/${checkoutId}/authorize`, amount: { amount: 900, currency: 'USD' }, paymentToken: 'tok_visa' };
  };

  it('an authorization the breaker refused is a non-retryable payment_unavailable, and its void returns at once without the gateway; one that reached the gateway is voided through it', async () => {
    const local = deps.gateway as LocalGateway;
    // an authorization that reached the gateway (its reply lost): it opens the breaker (threshold 1)
    const reached = authorization();
    local.setFaults({ mode: 'lost', count: 1, operations: ['authorize'] });
    await expect(activities.authorizePayment(reached)).rejects.toBeInstanceOf(GatewayUnavailableError);
    expect((await deps.breakers?.paymentGateway.snapshot())?.state).toBe('open');

    const refused = authorization();
    const failure = await activities.authorizePayment(refused).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'payment_unavailable', nonRetryable: true });
    expect((failure as ApplicationFailure).details?.[0]).toMatchObject({ retryAfterSeconds: expect.any(Number) });

    const started = Date.now();
    const voided = await activities.voidPayment({ checkoutId: refused.checkoutId, idempotencyKey: `wf/${refused.checkoutId}/void`, authorization: refused });
    expect(voided).toEqual({ action: 'none', amount: 0, currency: 'USD' });
    expect(Date.now() - started).toBeLessThan(200);

    // reconciliation, which saw money held at the gateway, always asks it (a mark can be wrong)
    await expect(activities.voidPayment({ ...voidOf(refused), askGateway: true })).rejects.toBeInstanceOf(GatewayUnavailableError);

    // a later attempt refused by the breaker follows one that may have reached the gateway (its
    // `dispatched` mark lost by Redis): it marks nothing, so the void asks the gateway
    const retried = authorization();
    const second = await new MockActivityEnvironment({ attempt: 2 }).run(activities.authorizePayment, retried).catch((e: unknown) => e);
    expect(second).toMatchObject({ type: 'payment_unavailable' });
    expect(await deps.breakers?.paymentGateway.callFate(retried.idempotencyKey)).toBeUndefined();
    await expect(activities.voidPayment(voidOf(retried))).rejects.toBeInstanceOf(GatewayUnavailableError);

    // the one that reached the gateway must be asked about: refused while open (retried by the saga) …
    const reachedVoid = { checkoutId: reached.checkoutId, idempotencyKey: `wf/${reached.checkoutId}/void`, authorization: reached };
    await expect(activities.voidPayment(reachedVoid)).rejects.toBeInstanceOf(GatewayUnavailableError);
    // … and voided at the gateway once it answers
    await deps.breakers?.paymentGateway.reset();
    expect(await activities.voidPayment(reachedVoid)).toMatchObject({ action: 'voided', amount: 900 });
  });
});
