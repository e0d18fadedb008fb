import { and, eq, inArray, like } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { GatewayUnavailableError } from '../../activities/gateways/payment-gateway';
import { holds, stock } from '../../db/schema/inventory';
import { checkouts } from '../../db/schema/order';
import { localGatewayOperations } from '../../db/schema/payment';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type HttpResult, type Stack } from '../helpers/stack';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `task` over `items` with at most `concurrency` in flight. */
async function pool<T, R>(items: T[], concurrency: number, task: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await task(items[i] as T, i);
      }
    }),
  );
  return results;
}

interface Answer {
  sentAt: number;
  ms: number;
  res: HttpResult;
}

/**
 * Issue 19: the payment gateway fails (the local gateway's fault mode: every operation a 500)
 * under 200 checkouts at concurrency 20, with the real API, worker, Temporal, PostgreSQL and
 * Redis. Once the breaker opens, every checkout is answered within a second (503
 * payment_unavailable, Retry-After) and no stock hold outlives the outage.
 */
/** The breaker's state; its Redis read is bounded at 250 ms (fail open), so a loaded machine may need another try. */
async function stateOf(breaker: { snapshot(): Promise<{ state: string }> }): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await breaker.snapshot()).state;
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('checkouts while the payment gateway is down (circuit breaker)', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  const COOLDOWN_MS = 10_000;

  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      env: { CHECKOUT_WAIT_MS: '3000', CIRCUIT_FAILURE_THRESHOLD: '5', CIRCUIT_WINDOW_MS: '30000', CIRCUIT_COOLDOWN_MS: String(COOLDOWN_MS) },
    });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  });
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  const newCart = async (sku: string): Promise<string> => {
    const cart = await stack.http('POST', '/carts', { body: {} });
    const line = await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 1 } });
    expect(line.status).toBe(200);
    return cart.body.id as string;
  };
  const checkout = (cartId: string, key: string) =>
    stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': key },
      body: { cartId, email: 'breaker@example.com', paymentToken: 'tok_visa' },
    });

  it('200 checkouts at concurrency 20: answered within 1 s once the breaker is open, no hold left behind, and checkouts succeed again after recovery', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1200, onHand: 1_000 });
    const carts = await pool(Array.from({ length: 200 }, (_, i) => i), 20, () => newCart(sku));
    const breaker = stack.activityDeps?.breakers?.paymentGateway;
    if (!breaker) throw new Error('the worker has no breakers');

    // When did the breaker open? (polled from Redis, as any process would see it)
    let openedAt: number | undefined;
    let watching = true;
    const watcher = (async () => {
      while (watching && openedAt === undefined) {
        if ((await stateOf(breaker)) === 'open') openedAt = Date.now();
        else await sleep(5);
      }
    })();

    gateway.setFaults({ mode: '500', count: 1_000_000 });
    const answers = await pool(carts, 20, async (cartId, i): Promise<Answer> => {
      const sentAt = Date.now();
      const res = await checkout(cartId, `outage-${i}`);
      return { sentAt, ms: Date.now() - sentAt, res };
    });
    watching = false;
    await watcher;

    expect(openedAt).toBeDefined();
    const opened = openedAt as number;
    const afterOpen = answers.filter((a) => a.sentAt >= opened);
    // the breaker opens within the first wave: nearly every checkout comes after
    expect(afterOpen.length).toBeGreaterThanOrEqual(150);
    const slowest = Math.max(...afterOpen.map((a) => a.ms));
    expect(slowest).toBeLessThanOrEqual(1_000);
    for (const a of afterOpen) {
      expect(a.res.status).toBe(503);
      expect(a.res.body.error.code).toBe('payment_unavailable');
      expect(Number(a.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // the ones already running when it opened: a 202 to poll, or the same 503 from their workflow
    for (const a of answers) expect([202, 503]).toContain(a.res.status);

    // /health: degraded with the breaker's state, but 200 (the pod keeps running)
    const health = await stack.http('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'degraded', breakers: { payment_gateway: { state: 'open' } } });

    // A 503 answered before a workflow started recorded nothing: no checkout row, no hold.
    const started = answers.filter((a) => a.res.body.checkoutId ?? a.res.body.error?.details?.checkoutId);
    const rows = await stack.dbs.order.select({ checkoutId: checkouts.checkoutId }).from(checkouts).where(inArray(checkouts.cartId, carts));
    expect(rows.length).toBe(started.length);

    // Recovery: the gateway answers again; after the cool-down the next checkout is the probe and closes the breaker.
    gateway.setFaults(null);
    const recovered = await newCart(sku);
    let placed: HttpResult | undefined;
    // (generous: on a loaded CI machine the probe checkout itself can take most of it)
    const deadline = Date.now() + COOLDOWN_MS + 45_000;
    while (!placed && Date.now() < deadline) {
      // the same key again: a 503 from the breaker recorded nothing
      const res = await checkout(recovered, 'after-recovery');
      if (res.status === 201) placed = res;
      // the probe ran but outlasted CHECKOUT_WAIT_MS (a busy machine): the same key again attaches to it
      else if (res.status === 202) await sleep(200);
      else {
        expect(res.status).toBe(503);
        await sleep(Math.min(Number(res.headers.get('retry-after') ?? 1), 2) * 1000);
      }
    }
    expect(placed?.body).toMatchObject({ status: 'placed' });
    expect((await stateOf(breaker))).toBe('closed');
    const next = await checkout(await newCart(sku), 'after-recovery-2');
    expect(next.status).toBe(201);

    // Audit: no hold of this sku is left held once the running checkouts compensated.
    const heldCount = async () =>
      (await stack.dbs.inventory.select().from(holds).where(and(eq(holds.sku, sku), eq(holds.status, 'held')))).length;
    await eventually(async () => ((await heldCount()) === 0 ? true : undefined), 90_000, 'every hold released or committed');
    const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    expect(level).toMatchObject({ reserved: 0, sold: 2, onHand: 998 });
  }, 180_000);
});

/**
 * The breaker opens after the API let a checkout through and before its authorization runs
 * (FAULT_PAUSE_BEFORE holds the first attempt of authorizePayment back while the test opens
 * it): the workflow's own refusal path, with the real worker, Temporal and stores.
 */
describe('a checkout already running when the gateway breaker opens', () => {
  let stack: Stack;
  const PAUSE_MS = 1_500;
  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      env: { CHECKOUT_WAIT_MS: '8000', FAULT_PAUSE_BEFORE: 'authorizePayment', FAULT_PAUSE_MS: String(PAUSE_MS), CIRCUIT_COOLDOWN_MS: '60000' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('fails fast with 503 payment_unavailable (its checkoutId, Retry-After), its stock released at once, nothing sent to the gateway', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 800, onHand: 5 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 2 } });
    const breaker = stack.activityDeps?.breakers?.paymentGateway;
    if (!breaker) throw new Error('the worker has no breakers');

    const sent = Date.now();
    const answer = stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'opens-mid-checkout' },
      body: { cartId: cart.body.id, email: 'mid@example.com', paymentToken: 'tok_visa' },
    });
    // the stock is held and the authorization is waiting: now the gateway's breaker opens
    await eventually(async () => ((await stack.dbs.inventory.select().from(holds).where(eq(holds.sku, sku))).length > 0 ? true : undefined), 10_000, 'the hold');
    const outage = () => Promise.reject(new GatewayUnavailableError('503 from the processor'));
    for (let i = 0; i < stack.config.circuit.failureThreshold; i++) {
      await breaker.run(outage, { isOutage: (e) => e instanceof GatewayUnavailableError }).catch(() => undefined);
    }
    expect((await stateOf(breaker))).toBe('open');

    const res = await answer;
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'payment_unavailable', details: { checkoutId: expect.any(String), retryAfterSeconds: expect.any(Number) } });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // the pause, then a refusal, a void that skips the gateway, the release: no retry budget spent
    expect(Date.now() - sent).toBeLessThan(PAUSE_MS + 3_000);

    const checkoutId = res.body.error.details.checkoutId as string;
    const rows = await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId));
    expect(rows.map((h) => h.status)).toEqual(['released']);
    const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    expect(level).toMatchObject({ reserved: 0, onHand: 5 });
    const ops = await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`));
    expect(ops).toEqual([]);
    expect((await stack.http('GET', `/checkouts/${checkoutId}`)).body).toMatchObject({ status: 'failed', failure: { code: 'payment_unavailable' } });
    // the same key replays its answer (status and body); its Retry-After is the breaker's as of now, not the recorded one
    await sleep(2_100);
    const replay = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'opens-mid-checkout' }, body: { cartId: cart.body.id, email: 'mid@example.com', paymentToken: 'tok_visa' } });
    expect(replay.status).toBe(503);
    expect(replay.body).toEqual(res.body);
    const remaining = Math.ceil((await breaker.snapshot()).retryAfterMs / 1000);
    expect(Number(replay.headers.get('retry-after'))).toBeLessThan(Number(res.headers.get('retry-after')));
    expect(Math.abs(Number(replay.headers.get('retry-after')) - remaining)).toBeLessThanOrEqual(1);
    const fresh = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'after-open' }, body: { cartId: cart.body.id, email: 'mid@example.com', paymentToken: 'tok_visa' } });
    expect(fresh.status).toBe(503);
    expect(fresh.body.error.details.checkoutId).toBeUndefined();
    // once the breaker no longer refuses, a replay says 1 s (come back now, with a new key)
    await breaker.reset();
    const late = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'opens-mid-checkout' }, body: { cartId: cart.body.id, email: 'mid@example.com', paymentToken: 'tok_visa' } });
    expect({ status: late.status, retryAfter: late.headers.get('retry-after') }).toEqual({ status: 503, retryAfter: '1' });
    expect(late.body).toEqual(res.body);
  }, 60_000);
});
