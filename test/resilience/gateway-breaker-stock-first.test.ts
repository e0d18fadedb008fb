import { eq, like } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { holds, stock } from '../../db/schema/inventory';
import { localGatewayOperations, payments } from '../../db/schema/payment';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Issue 19's residual: a checkout whose authorization reached the gateway while the gateway's
 * breaker opened. Its compensation must ask the gateway (the authorization may be held there),
 * and the breaker refuses until the gateway is back — before, the stock hold waited for that
 * void. With no order ever asked for, nothing can capture that authorization, so the stock goes
 * back at once and the void keeps retrying until it lands (real API, worker, Temporal, stores,
 * the local gateway's fault injection: the authorization happens and its reply is lost).
 */
describe('a checkout whose authorization reached the gateway as the breaker opened', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  const COOLDOWN_MS = 12_000;

  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      env: { CHECKOUT_WAIT_MS: '2500', CIRCUIT_FAILURE_THRESHOLD: '1', CIRCUIT_WINDOW_MS: '30000', CIRCUIT_COOLDOWN_MS: String(COOLDOWN_MS) },
    });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  });
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  it('its stock hold is released within seconds while the void waits for the breaker; the void lands once the gateway is back; nothing is ever captured', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 900, onHand: 5 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
    const breaker = stack.activityDeps?.breakers?.paymentGateway;
    if (!breaker) throw new Error('the worker has no breakers');

    // the authorization happens at the gateway and its reply is lost: that one failure opens the breaker
    gateway.setFaults({ mode: 'lost', count: 1, operations: ['authorize'] });
    const sent = Date.now();
    const res = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'stock-before-void' },
      body: { cartId, email: 'stock-first@example.com', paymentToken: 'tok_visa' },
    });
    // the workflow is still compensating (its void waits): the storefront polls
    expect(res.status).toBe(202);
    const checkoutId = res.body.checkoutId as string;
    const opsOf = async () =>
      (await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`))).map(
        (o) => o.operation,
      );

    // the hold is back within seconds of the request…
    await eventually(
      async () => {
        const rows = await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId));
        return rows.length > 0 && rows.every((h) => h.status === 'released') ? true : undefined;
      },
      6_000,
      'the stock hold released',
    );
    const releasedAfter = Date.now() - sent;
    expect(releasedAfter).toBeLessThan(6_000);
    const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    expect(level).toMatchObject({ reserved: 0, onHand: 5, sold: 0 });
    // …while the authorization is still held at the gateway and the void still waits on the open breaker
    expect((await breaker.snapshot()).state).toBe('open');
    expect(await opsOf()).toEqual(['authorize']);
    // the checkout's outcome was made final before the stock went back: a replay answers this failure
    const waiting = await stack.http('GET', `/checkouts/${checkoutId}`);
    expect(waiting.body).toMatchObject({ status: 'failed', failure: { code: 'payment_unavailable' } });
    expect(waiting.body.failure.message).toMatch(/nothing was charged$/);
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    const { status } = await handle.describe();
    expect(status.name).toBe('RUNNING');

    // the gateway is back once the cool-down ends: the void's next attempt is the probe, and it lands
    const done = await eventually(
      async () => {
        const view = await stack.http('GET', `/checkouts/${checkoutId}`);
        return view.body.status === 'failed' && /was released/.test(view.body.failure?.message ?? '') ? view.body : undefined;
      },
      COOLDOWN_MS + 45_000,
      'the void landed and the failure tells the authorization was released',
    );
    expect(done.failure).toMatchObject({ code: 'payment_unavailable' });
    expect(done.failure.message).toMatch(/authorization of .* was released and nothing was charged/);
    const ops = await opsOf();
    expect(ops.sort()).toEqual(['authorize', 'void']);
    expect(ops).not.toContain('capture');
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    expect(payment).toMatchObject({ status: 'voided', capturedAmount: 0 });
    expect((await breaker.snapshot()).state).toBe('closed');
    // the same request again: its recorded answer, nothing re-held or re-authorized
    const replay = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'stock-before-void' },
      body: { cartId, email: 'stock-first@example.com', paymentToken: 'tok_visa' },
    });
    expect(replay.body.error?.code).toBe('payment_unavailable');
    expect((await opsOf()).sort()).toEqual(['authorize', 'void']);
    const [after] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    expect(after).toMatchObject({ reserved: 0, onHand: 5, sold: 0 });
    await handle.result();
    // (checkoutWorkflow--breaker-stock-released-before-void.json: the same run before its outcome was made final first)
    await recordHistory(handle, 'checkoutWorkflow', 'breaker-final-before-release');
  }, 120_000);

  it('the run terminated while its void waits, then the same request replayed: it answers the recorded failure, no new run — nothing re-held, nothing captured', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 3 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const breaker = stack.activityDeps?.breakers?.paymentGateway;
    if (!breaker) throw new Error('the worker has no breakers');
    await breaker.reset();

    gateway.setFaults({ mode: 'lost', count: 1, operations: ['authorize'] });
    const request = { headers: { 'Idempotency-Key': 'terminated-mid-void' }, body: { cartId, email: 'stock-first@example.com', paymentToken: 'tok_visa' } };
    const res = await stack.http('POST', '/checkouts', request);
    expect(res.status).toBe(202);
    const checkoutId = res.body.checkoutId as string;
    await eventually(
      async () => ((await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId))).every((h) => h.status === 'released') ? true : undefined),
      6_000,
      'the stock hold released',
    );
    // an operator ends the run mid-compensation (its void still waiting), and the gateway is back
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    await handle.terminate('operator: ended mid-compensation');
    await breaker.reset();

    // the storefront retries the same request: the checkout row was marked failed before the
    // stock went back, so the replay answers that failure and no new run starts (on any build)
    const again = await stack.http('POST', '/checkouts', request);
    expect(again.status).toBe(503);
    expect(again.body.error.code).toBe('payment_unavailable');
    expect((await handle.describe()).status.name).toBe('TERMINATED');
    const ops = (await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`))).map((o) => o.operation);
    expect(ops).toEqual(['authorize']);
    const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    expect(level).toMatchObject({ reserved: 0, onHand: 3, sold: 0 });
    // the authorization the terminated run left is reconciliation's to void (the checkout has no order)
  }, 60_000);
});
