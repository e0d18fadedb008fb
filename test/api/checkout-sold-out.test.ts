import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import fc from 'fast-check';
import { holds, stock } from '../../db/schema/inventory';
import { checkouts } from '../../db/schema/order';
import { authorizationAttempts } from '../../db/schema/payment';
import { CircuitBreakers } from '../../db/stores/circuit-breakers';
import { holdStock, releaseHold } from '../../db/stores/holds';

import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { startCheckoutRun } from '../helpers/checkout-run';
import { recordHistory } from '../helpers/histories';
import { checkoutWorkflowOf } from '../helpers/interleavings';
import { createProduct, startStack, type HttpResult, type Stack } from '../helpers/stack';

const PASSWORD = 'correct horse battery';
const OUT_OF_STOCK_MESSAGE = 'not enough stock for some items; nothing was charged';

/**
 * Issue 18 item 2: a checkout of a cart whose SKUs are already sold out is refused at once
 * (409 out_of_stock, the hold's own answer) without a workflow, nothing held, the cart not
 * locked; the refusal is recorded under its Idempotency-Key. When stock remains the hold
 * decides as before. Real API, PostgreSQL, Redis, Temporal dev server and worker.
 */
describe('sold out: POST /checkouts refuses before any workflow (real Temporal, PostgreSQL, Redis)', () => {
  let stack: Stack;
  const admin = () => ({ Authorization: `Bearer ${stack.config.adminApiToken}` });
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000', CUSTOMER_LOGIN_ATTEMPTS_PER_IP: '1000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function cartWith(lines: [string, number][], headers: Record<string, string> = {}): Promise<string> {
    const cart = await stack.http('POST', '/carts', { headers, body: {} });
    expect(cart.status).toBe(201);
    for (const [sku, quantity] of lines) {
      expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { headers, body: { quantity } })).status).toBe(200);
    }
    return cart.body.id as string;
  }
  const checkout = (cartId: string, key: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    stack.http('POST', '/checkouts', {
      headers: { ...headers, 'Idempotency-Key': key },
      body: { cartId, email: 'buyer@example.com', paymentToken: 'tok_visa', ...extra },
    });
  const stockOf = async (sku: string) => (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0];
  const setStock = async (sku: string, onHand: number) => {
    const res = await stack.http('PUT', `/admin/inventory/${sku}`, { headers: admin(), body: { onHand } });
    expect(res.status).toBe(200);
  };
  const workflowOf = (cartId: string) => checkoutWorkflowOf(stack, cartId);
  const rowsOf = (cartId: string) => stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId));
  const holdsOf = (checkoutId: string) => stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId));

  it('a sold-out SKU: 409 out_of_stock with the hold\'s details, no workflow, nothing held, the cart not locked, the refusal recorded', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 0 });
    const cartId = await cartWith([[sku, 1]]);
    const res = await checkout(cartId, 'gone-1');
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: { code: 'out_of_stock', message: OUT_OF_STOCK_MESSAGE, details: { checkoutId: expect.stringMatching(/^chk_/), items: [{ sku, requested: 1, available: 0 }] } },
    });
    const checkoutId = res.body.error.details.checkoutId as string;
    expect(await workflowOf(cartId)).toBe('none');
    expect(await holdsOf(checkoutId)).toEqual([]);
    expect(await stockOf(sku)).toMatchObject({ onHand: 0, reserved: 0 });
    // the row records the answer (a replay reads it) and nothing else: no run, no order, no frozen cart
    const [row] = await rowsOf(cartId);
    expect(row).toMatchObject({ checkoutId, status: 'failed', runId: null, orderId: null, frozenCart: null, failure: { code: 'out_of_stock' } });
    expect(await stack.http('GET', `/checkouts/${checkoutId}`)).toMatchObject({ status: 200, body: { checkoutId, status: 'failed', failure: { code: 'out_of_stock', message: OUT_OF_STOCK_MESSAGE } } });
    // the cart was never locked: the customer changes it at once
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
  });

  it('the same Idempotency-Key replays the refusal (also concurrent duplicates, also after a restock); a new key after the restock is placed', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 0 });
    const cartId = await cartWith([[sku, 1]]);
    const answers = await Promise.all(Array.from({ length: 10 }, () => checkout(cartId, 'replay-1')));
    const first = answers[0] as HttpResult;
    expect(first.status).toBe(409);
    for (const a of answers) expect({ status: a.status, body: a.body }).toEqual({ status: 409, body: first.body });
    expect(await rowsOf(cartId)).toHaveLength(1);
    expect((await checkout(cartId, 'replay-1', { email: 'other@example.com' })).body.error.code).toBe('idempotency_key_reused');

    await setStock(sku, 5);
    const replay = await checkout(cartId, 'replay-1');
    expect({ status: replay.status, body: replay.body }).toEqual({ status: 409, body: first.body });
    expect(await workflowOf(cartId)).toBe('none');

    const fresh = await checkout(cartId, 'replay-2');
    expect(fresh.status).toBe(201);
    await stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)).result();
    expect(await stockOf(sku)).toMatchObject({ onHand: 4, reserved: 0, sold: 1 });
    // and the first key still answers its refusal
    expect((await checkout(cartId, 'replay-1')).body).toEqual(first.body);
  });

  it('partial availability: 2 requested with 1 available → 409 without a workflow; 1 requested → placed; only the short SKU is listed', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 1 });
    const plenty = await createProduct(stack.dbs, { onHand: 10 });
    const cartId = await cartWith([[plenty, 1], [sku, 2]]);
    const res = await checkout(cartId, 'partial-1');
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'out_of_stock', details: { items: [{ sku, requested: 2, available: 1 }] } });
    expect(res.body.error.details.items).toHaveLength(1);
    expect(await workflowOf(cartId)).toBe('none');
    expect(await stockOf(sku)).toMatchObject({ onHand: 1, reserved: 0 });
    expect(await stockOf(plenty)).toMatchObject({ onHand: 10, reserved: 0 });

    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const placed = await checkout(cartId, 'partial-2');
    expect(placed.status).toBe(201);
    await stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)).result();
    expect(await stockOf(sku)).toMatchObject({ onHand: 0, reserved: 0, sold: 1 });
  });

  it('a unit given back (a released hold, an expired hold swept, a declined buyer\'s compensation) is bought by the next buyer', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 1 });
    // another buyer holds the last unit: the pre-check refuses
    await holdStock(stack.dbs.inventory, `other-${randomBytes(4).toString('hex')}`, [{ sku, quantity: 1 }], 600).then(async (r) => {
      expect(r.status).toBe('held');
    });
    const heldOther = (await stack.dbs.inventory.select().from(holds).where(eq(holds.sku, sku)))[0]?.holdId as string;
    const loser = await cartWith([[sku, 1]]);
    expect((await checkout(loser, 'given-back-1')).status).toBe(409);
    expect(await workflowOf(loser)).toBe('none');
    // ... and gives it back: the next buyer wins it
    await releaseHold(stack.dbs.inventory, heldOther);
    const winner = await cartWith([[sku, 1]]);
    expect((await checkout(winner, 'given-back-2')).status).toBe(201);
    await stack.temporal.workflow.getHandle(checkoutWorkflowId(winner)).result();

    // a hold that expires and is swept
    await setStock(sku, 1);
    const expiring = `expiring-${randomBytes(4).toString('hex')}`;
    expect((await holdStock(stack.dbs.inventory, expiring, [{ sku, quantity: 1 }], -1)).status).toBe('held');
    const early = await cartWith([[sku, 1]]);
    expect((await checkout(early, 'expired-1')).status).toBe(409);
    // what the sweep does to it (releaseExpiredHolds, one hold: other suites' holds are theirs)
    expect(await releaseHold(stack.dbs.inventory, expiring, 'expired')).toBe(1);
    const late = await cartWith([[sku, 1]]);
    expect((await checkout(late, 'expired-2')).status).toBe(201);
    await stack.temporal.workflow.getHandle(checkoutWorkflowId(late)).result();

    // a declined card holds the unit, then its compensation releases it
    await setStock(sku, 1);
    const declined = await cartWith([[sku, 1]]);
    expect((await checkout(declined, 'declined-1', { paymentToken: 'tok_chargeDeclined' })).status).toBe(402);
    await stack.temporal.workflow.getHandle(checkoutWorkflowId(declined)).result();
    const next = await cartWith([[sku, 1]]);
    expect((await checkout(next, 'after-decline-1')).status).toBe(201);
    await stack.temporal.workflow.getHandle(checkoutWorkflowId(next)).result();
    expect(await stockOf(sku)).toMatchObject({ onHand: 0, reserved: 0, sold: 3 });
  });

  it('a buyer the pre-check let through and the admission hold refused: the same 409 body, at once, no workflow, nothing held, the cart editable', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 1 });
    const cartId = await cartWith([[sku, 1]]);
    let answered = false;
    let answer: Promise<HttpResult> | undefined;
    // another buyer's hold of the last unit, not yet committed when the pre-check reads (it sees 1
    // available) and committed while the admission hold waits on the row: the hold refuses
    await stack.dbs.inventory.transaction(async (tx) => {
      await tx.update(stock).set({ reserved: sql`${stock.reserved} + 1` }).where(eq(stock.sku, sku));
      answer = checkout(cartId, 'raced-1').finally(() => (answered = true));
      // the checkout's row is opened and the cart locked: its admission hold waits on the stock row
      await eventually(async () => ((await rowsOf(cartId)).length > 0 ? true : undefined), 10_000, 'the checkout row');
      await new Promise((r) => setTimeout(r, 300));
      expect(answered).toBe(false);
    });
    const refused = await (answer as Promise<HttpResult>);
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({
      error: { code: 'out_of_stock', message: OUT_OF_STOCK_MESSAGE, details: { checkoutId: expect.stringMatching(/^chk_/), items: [{ sku, requested: 1, available: 0 }] } },
    });
    const checkoutId = refused.body.error.details.checkoutId as string;
    expect(await workflowOf(cartId)).toBe('none');
    const [row] = await rowsOf(cartId);
    expect(row).toMatchObject({ status: 'failed', runId: null, failure: { code: 'out_of_stock' } });
    expect(await holdsOf(checkoutId)).toEqual([]);
    expect(await stockOf(sku)).toMatchObject({ onHand: 1, reserved: 1 });
    // a replay answers the same; the cart is the customer's again
    expect((await checkout(cartId, 'raced-1')).body).toEqual(refused.body);
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
    await stack.dbs.inventory.update(stock).set({ reserved: sql`${stock.reserved} - 1` }).where(eq(stock.sku, sku));
  });

  it('a run whose hold is refused (no admission hold: e.g. the API could not take one) answers the same 409 body from the workflow, compensated in the refusing task\'s successor, nothing held', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 1 });
    const cartId = await cartWith([[sku, 1]]);
    // the checkout as the API opens and starts it, without an admission hold; the last unit went to another buyer meanwhile
    expect((await holdStock(stack.dbs.inventory, `other-buyer-${sku}`, [{ sku, quantity: 1 }], 60)).status).toBe('held');
    const opened = await startCheckoutRun(stack, cartId, { key: 'raced-2', email: 'buyer@example.com', waitMs: 30_000 });
    const refused = await opened.answer;
    expect(refused).toEqual({ status: 'failed', checkoutId: opened.checkoutId, total: { amount: expect.any(Number), currency: 'USD' }, failure: { code: 'out_of_stock', message: OUT_OF_STOCK_MESSAGE, details: { items: [{ sku, requested: 1, available: 0 }] } } });
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    await handle.result();
    await recordHistory(handle, 'checkoutWorkflow', 'out-of-stock-hold-refused-settled-locally');
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes)).toHaveLength(1);
    // the refusal is recorded before any compensation takes effect: the task that recorded the
    // refused hold completes with a 1 ms timer, and the compensation (one local activity) and the
    // payment fence run in the task after it (a local compensation in the refusing task could
    // commit and then be re-decided by a re-run of the lost task); no activity task, no child
    const kinds = events.map((e) =>
      e.markerRecordedEventAttributes?.markerName === 'core_local_activity' ? 'local' : e.timerStartedEventAttributes ? 'timer' : e.workflowTaskCompletedEventAttributes ? 'task' : 'other',
    );
    const locals = kinds.flatMap((k, i) => (k === 'local' ? [i] : []));
    // claim, freeze, hold; then the settle and the fence, after a timer and a completed task
    expect(locals).toHaveLength(5);
    expect(kinds.slice(locals[2], locals[3])).toEqual(expect.arrayContaining(['timer', 'task']));
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    // the fence stands: no authorize can ever be sent under this checkout's key
    const [fence] = await stack.dbs.payment.select().from(authorizationAttempts).where(eq(authorizationAttempts.checkoutId, opened.checkoutId));
    expect(fence?.fate).toBe('abandoned');
    const [row] = await rowsOf(cartId);
    expect(row).toMatchObject({ status: 'failed', failure: { code: 'out_of_stock' } });
    expect(await holdsOf(opened.checkoutId)).toEqual([]);
    expect(await stockOf(sku)).toMatchObject({ onHand: 1, reserved: 1 });
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
    await releaseHold(stack.dbs.inventory, `other-buyer-${sku}`);
  });

  it('a cart whose own checkout holds the last unit answers checkout_in_progress to a second key, not out_of_stock', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 1 });
    const cartId = await cartWith([[sku, 1]]);
    // 3-D Secure: the workflow holds the unit and the cart while it waits for the customer
    const waiting = await checkout(cartId, 'mine-1', { paymentToken: 'tok_threeDSecure2Required' });
    expect(waiting.status).toBe(202);
    expect(await stockOf(sku)).toMatchObject({ reserved: 1 });
    const second = await checkout(cartId, 'mine-2');
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'checkout_in_progress', details: { checkoutId: waiting.body.checkoutId } });
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    await handle.cancel();
    await handle.result();
    expect(await stockOf(sku)).toMatchObject({ onHand: 1, reserved: 0 });
  });

  it('a customer\'s sold-out checkout: recorded as theirs, replayed to them, not_found for anyone else', async () => {
    const email = `so-${randomBytes(5).toString('hex')}@example.com`;
    const created = await stack.http('POST', '/customers', { body: { email, password: PASSWORD } });
    expect(created.status).toBe(201);
    const login = await stack.http('POST', '/auth/login', { body: { email, password: PASSWORD } });
    const auth = { Authorization: `Bearer ${login.body.accessToken}` };
    const sku = await createProduct(stack.dbs, { onHand: 0 });
    const cartId = await cartWith([[sku, 1]], auth);
    const res = await checkout(cartId, 'owned-1', {}, auth);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('out_of_stock');
    expect(await workflowOf(cartId)).toBe('none');
    const [row] = await rowsOf(cartId);
    expect(row?.customerId).toBe(created.body.id);
    expect((await checkout(cartId, 'owned-1', {}, auth)).body).toEqual(res.body);
    const stranger = await checkout(cartId, 'owned-1');
    expect([stranger.status, stranger.body.error.code]).toEqual([404, 'not_found']);
    expect((await stack.http('GET', `/checkouts/${res.body.error.details.checkoutId}`)).status).toBe(404);
  });

  it('while the payment breaker is open: a sold-out cart is still 409 out_of_stock (stock is judged first, as in the workflow); an in-stock one gets 503', async () => {
    const breaker = new CircuitBreakers(stack.redis, stack.config.circuit).paymentGateway;
    for (let i = 0; i < stack.config.circuit.failureThreshold; i++) {
      await breaker.run(() => Promise.reject(new Error('gateway down')), { isOutage: () => true }).catch(() => undefined);
    }
    try {
      await eventually(async () => ((await breaker.refusal()) ? true : undefined), 5_000, 'the breaker to open');
      const gone = await createProduct(stack.dbs, { onHand: 0 });
      const soldOut = await checkout(await cartWith([[gone, 1]]), 'breaker-1');
      expect([soldOut.status, soldOut.body.error.code]).toEqual([409, 'out_of_stock']);
      const inStock = await createProduct(stack.dbs, { onHand: 5 });
      const cartId = await cartWith([[inStock, 1]]);
      const unavailable = await checkout(cartId, 'breaker-2');
      expect([unavailable.status, unavailable.body.error.code]).toEqual([503, 'payment_unavailable']);
      // a 503 records nothing: the same key goes through once payments are back
      expect(await rowsOf(cartId)).toEqual([]);
    } finally {
      await breaker.reset();
    }
  });

  /**
   * The model: buyers of one unit-or-two in two concurrent waves over a small stock, every card
   * good. Stock only ever goes down (every hold is paid), so a buyer refused for `q` units must
   * see fewer than `q` left at the end; no unit is sold twice or left reserved. With one unit
   * each that is exactly min(stock, buyers) placed. A buyer of the second wave who finds the
   * stock already short is refused by the pre-check: no workflow exists for their cart.
   */
  it('model: concurrent checkouts over small stock never oversell, sell exactly what a refusal says is gone, and refuse a sold-out wave without workflows', async () => {
    const buyers = fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 0, maxLength: 5 });
    const property = fc.asyncProperty(fc.integer({ min: 0, max: 3 }), buyers, buyers, fc.boolean(), async (units, wave1, wave2, oneEach) => {
      const quantities = (wave: number[]) => (oneEach ? wave.map(() => 1) : wave);
      const sku = await createProduct(stack.dbs, { onHand: units });
      const run = async (wave: number[]) => {
        const carts = await Promise.all(quantities(wave).map(async (q) => ({ q, cartId: await cartWith([[sku, q]]) })));
        const before = (await stockOf(sku))!;
        const answers = await Promise.all(carts.map(async (c) => ({ ...c, res: await checkout(c.cartId, `model-${randomBytes(4).toString('hex')}`) })));
        return { answers, availableBefore: before.onHand - before.reserved };
      };
      const first = await run(wave1);
      const second = await run(wave2);
      const all = [...first.answers, ...second.answers];
      for (const a of all) expect([201, 409]).toContain(a.res.status);
      const refused = all.filter((a) => a.res.status === 409);
      for (const a of refused) {
        expect(a.res.body.error).toMatchObject({ code: 'out_of_stock', message: OUT_OF_STOCK_MESSAGE, details: { items: [{ sku, requested: a.q, available: expect.any(Number) }] } });
      }
      // second wave: whoever asked for more than was left before it started never ran a workflow
      for (const a of second.answers) {
        if (a.q > second.availableBefore) {
          expect(a.res.status).toBe(409);
          expect(await workflowOf(a.cartId)).toBe('none');
        }
      }
      const placed = all.filter((a) => a.res.status === 201);
      await Promise.all(placed.map((a) => stack.temporal.workflow.getHandle(checkoutWorkflowId(a.cartId)).result()));
      for (const a of refused) {
        if ((await workflowOf(a.cartId)) === 'exists') await stack.temporal.workflow.getHandle(checkoutWorkflowId(a.cartId)).result();
      }
      const sold = placed.reduce((n, a) => n + a.q, 0);
      expect(await stockOf(sku)).toMatchObject({ onHand: units - sold, reserved: 0, sold });
      for (const a of refused) expect(a.q).toBeGreaterThan(units - sold);
      if (oneEach) expect(placed).toHaveLength(Math.min(units, all.length));
    });
    await fc.assert(property, { numRuns: Number(process.env.SOLD_OUT_MODEL_RUNS ?? 8), interruptAfterTimeLimit: 120_000 });
  }, 180_000);
});
