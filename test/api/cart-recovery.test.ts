import { sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import type { WorkflowHandle } from '@temporalio/client';
import { cartKey } from '../../db/stores/cart';
import { createActivities } from '../../activities';
import { createOrder } from '../../db/stores/orders';
import { ensureSchedules } from '../../temporal/schedules';
import { CART_RECOVERY_SWEEP_SCHEDULE_ID } from '../../temporal/workflow-ids';
import { cartRecoveryStatusQuery } from '../../workflows/messages';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';


/**
 * Runs the real sweep until it has started the cart's run. One sweep covers a bounded batch and
 * its cursor moves through the whole window over successive runs; suites running in parallel
 * share this database (and its idle carts), so the cart may need more than one sweep to come up.
 */
async function sweepUntilStarted(stack: Stack, handle: WorkflowHandle): Promise<void> {
  const activities = createActivities(stack.activityDeps as NonNullable<Stack['activityDeps']>);
  for (let sweep = 0; sweep < 40; sweep++) {
    await activities.ensureCartRecoveries();
    if (await handle.describe().then(() => true, () => false)) return;
  }
  throw new Error('40 sweeps never started the cart\'s run');
}

describe('cart recovery wiring: cart writes, the sweep Schedule', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CART_RECOVERY_SWEEP_SECONDS: '1', CART_REMINDER_OFFSETS_MINUTES: '60,1440,4320' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Reminders go only to a known address (domain/cart-reminder.ts mayRemind): this one ordered before. */
  const customerWhoOrdered = async () => {
    const email = `known-${randomUUID()}@example.com`;
    await createOrder(stack.dbs.order, { checkoutId: `chk_${randomUUID()}`, cartId: `cart_prior`, email, currency: 'USD', totalAmount: 100, lines: [{ sku: 'x', name: 'x', quantity: 1, unitPrice: 100, lineTotal: 100 }] });
    return email;
  };

  /** The cart's reminder marker in Redis (db/stores/cart-scripts.ts RECOVERY_AFTER_WRITE). */
  const marker = async (cartId: string) => (JSON.parse((await stack.redis.get(cartKey(cartId))) ?? '{}') as { recovery?: string }).recovery;
  const signalsOf = async (handle: WorkflowHandle) => ((await handle.fetchHistory()).events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;

  it('the first write of a cart with an email and lines starts its recovery workflow; later writes cost Temporal nothing (the run finds the newer version when it wakes)', async () => {
    const sku = await createProduct(stack.dbs);
    const cart = (await stack.http('POST', '/carts', { body: { email: await customerWhoOrdered() } })).body;
    expect(await marker(cart.id)).toBeUndefined();
    expect((await stack.http('PUT', `/carts/${cart.id}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const handle = stack.temporal.workflow.getHandle(`cart-recovery-${cart.id}`);
    expect(await eventually(async () => (await handle.query(cartRecoveryStatusQuery)).nextStep === 0 || undefined, 10_000, 'the run waiting')).toBe(true);
    expect(await handle.query(cartRecoveryStatusQuery)).toMatchObject({ version: 2, nextStep: 0, sent: 0 });
    expect(await marker(cart.id)).toBe('open');
    for (const quantity of [2, 3, 4]) expect((await stack.http('PUT', `/carts/${cart.id}/lines/${sku}`, { body: { quantity } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500)); // a signal, had one gone out, would be in the history by now
    expect(await signalsOf(handle)).toBe(1); // the signal-with-start that started the run
    expect(await handle.query(cartRecoveryStatusQuery)).toMatchObject({ version: 2, nextStep: 0 }); // version 5 is found at send time
    await handle.terminate('test done');
  });

  it('two API processes writing one cart at once start its run once', async () => {
    const other = await startStack({ env: { TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue } });
    try {
      const sku = await createProduct(stack.dbs);
      const skus = [sku, await createProduct(stack.dbs), await createProduct(stack.dbs), await createProduct(stack.dbs)];
      const cart = (await stack.http('POST', '/carts', { body: { email: await customerWhoOrdered() } })).body;
      const answers = await Promise.all(skus.flatMap((s, i) => [stack, other].map((api) => api.http('PUT', `/carts/${cart.id}/lines/${s}`, { body: { quantity: i + 1 } }))));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      const handle = stack.temporal.workflow.getHandle(`cart-recovery-${cart.id}`);
      await eventually(async () => (await handle.query(cartRecoveryStatusQuery)).nextStep === 0 || undefined, 10_000, 'the run waiting');
      await new Promise((r) => setTimeout(r, 500));
      expect(await signalsOf(handle)).toBe(1);
      await handle.terminate('test done');
    } finally {
      await other.close();
    }
  });

  it('a cart write answers at once with Temporal unreachable; the sweep then starts the run the write could not', async () => {
    // Temporal out of reach: a port that takes the connection and never answers (as a dropped network does)
    const held: net.Socket[] = [];
    const blackhole = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', () => resolve()));
    const cut = await startStack({ temporalAddress: `127.0.0.1:${(blackhole.address() as AddressInfo).port}` });
    try {
      const sku = await createProduct(stack.dbs);
      const created = await cut.http('POST', '/carts', { body: { email: await customerWhoOrdered() } });
      expect(created.status).toBe(201);
      const cartId = created.body.id as string;
      for (const quantity of [1, 2]) {
        const started = performance.now();
        const put = await cut.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity } });
        expect(put.status).toBe(200);
        expect(put.body.lines).toMatchObject([{ sku, quantity }]);
        expect(performance.now() - started).toBeLessThan(1_000);
      }
      const handle = stack.temporal.workflow.getHandle(`cart-recovery-${cartId}`);
      await expect(handle.describe()).rejects.toThrow(); // the start never reached Temporal
      expect(await marker(cartId)).toBe('open'); // ... yet the marker says a run is open: the sweep repairs that
      await stack.dbs.cart.execute(sql`update cart.carts set updated_at = now() - interval '2 hours' where id = ${cartId}`);
      await sweepUntilStarted(stack, handle);
      expect(await eventually(async () => (await handle.query(cartRecoveryStatusQuery)).nextStep === 0 || undefined, 10_000, 'the run waiting')).toBe(true);
      expect((await handle.query(cartRecoveryStatusQuery)).version).toBe(3);
      await handle.terminate('test done');
    } finally {
      await cut.close();
      for (const socket of held) socket.destroy();
      blackhole.close();
    }
  });

  it('a cart with a stranger\'s email: its recovery run ends at once, reminding nobody, and later writes start no other', async () => {
    const sku = await createProduct(stack.dbs);
    const cart = (await stack.http('POST', '/carts', { body: { email: `stranger-${randomUUID()}@example.com` } })).body;
    await stack.http('PUT', `/carts/${cart.id}/lines/${sku}`, { body: { quantity: 1 } });
    const handle = stack.temporal.workflow.getHandle(`cart-recovery-${cart.id}`);
    await eventually(async () => (await handle.describe()).status.name === 'COMPLETED' || undefined, 10_000, 'the run ended');
    expect(await handle.result()).toMatchObject({ sent: 0, stopped: 'unknown_address' });
    expect(await marker(cart.id)).toBe('off');
    const { runId } = await handle.describe();
    await stack.http('PUT', `/carts/${cart.id}/lines/${sku}`, { body: { quantity: 2 } });
    await new Promise((r) => setTimeout(r, 500));
    expect((await handle.describe()).runId).toBe(runId);
  });

  it("a logged-in customer's cart at the account's own address is reminded; at an address they typed for someone else, nobody is", async () => {
    const email = `account-${randomUUID()}@example.com`;
    expect((await stack.http('POST', '/customers', { body: { email, password: 'correct horse battery' } })).status).toBe(201);
    const login = await stack.http('POST', '/auth/login', { body: { email, password: 'correct horse battery' } });
    const auth = { Authorization: `Bearer ${login.body.accessToken}` };
    const sku = await createProduct(stack.dbs);

    const own = (await stack.http('POST', '/carts', { headers: auth, body: { email: email.toUpperCase() } })).body;
    await stack.http('PUT', `/carts/${own.id}/lines/${sku}`, { headers: auth, body: { quantity: 1 } });
    const ownRun = stack.temporal.workflow.getHandle(`cart-recovery-${own.id}`);
    // the run checks the address first: then it either waits for step 0 or has stopped
    const checked = await eventually(async () => {
      const view = await ownRun.query(cartRecoveryStatusQuery);
      return view.nextStep !== undefined || view.stopped ? view : undefined;
    }, 10_000, 'the address checked');
    expect(checked).toMatchObject({ version: 2, nextStep: 0 });
    expect(checked.stopped).toBeUndefined();
    await ownRun.terminate('test done');

    const typed = (await stack.http('POST', '/carts', { headers: auth, body: { email: `someone-else-${randomUUID()}@example.com` } })).body;
    await stack.http('PUT', `/carts/${typed.id}/lines/${sku}`, { headers: auth, body: { quantity: 1 } });
    const typedRun = stack.temporal.workflow.getHandle(`cart-recovery-${typed.id}`);
    await eventually(async () => (await typedRun.describe()).status.name === 'COMPLETED' || undefined, 10_000, 'the run ended');
    expect(await typedRun.result()).toMatchObject({ sent: 0, stopped: 'unknown_address' });
  });

  it('a cart without an email gets no reminders', async () => {
    const sku = await createProduct(stack.dbs);
    const cart = (await stack.http('POST', '/carts', { body: {} })).body;
    await stack.http('PUT', `/carts/${cart.id}/lines/${sku}`, { body: { quantity: 1 } });
    await expect(stack.temporal.workflow.getHandle(`cart-recovery-${cart.id}`).describe()).rejects.toThrow();
  });

  it('the sweep starts recovery for an idle cart whose signal was missed', async () => {
    const sku = await createProduct(stack.dbs);
    const { CartStore } = await import('../../db/stores/cart');
    const carts = new CartStore(stack.redis, stack.dbs.cart, stack.config.cart);
    const cart = await carts.create({ currency: 'USD', email: await customerWhoOrdered() });
    await carts.setLine(cart.id, sku, 1); // written straight to the store: no API, no signal
    await stack.dbs.cart.execute(sql`update cart.carts set updated_at = now() - interval '2 hours' where id = ${cart.id}`);
    const handle = stack.temporal.workflow.getHandle(`cart-recovery-${cart.id}`);
    await sweepUntilStarted(stack, handle);
    expect((await handle.query(cartRecoveryStatusQuery)).version).toBe(2);
    await handle.terminate('test done');
  });

  it('the sweep Schedule exists after start-up, creating it twice is harmless, and pausing it stops new sweeps', async () => {
    const schedule = stack.temporal.schedule.getHandle(CART_RECOVERY_SWEEP_SCHEDULE_ID);
    // start from this test's settings (other test files may have created it first)
    await schedule.delete().catch(() => undefined);
    await ensureSchedules(stack.temporal, stack.config);
    await ensureSchedules(stack.temporal, stack.config);
    const created = await schedule.describe();
    expect(created.action).toMatchObject({ type: 'startWorkflow', workflowType: 'cartRecoverySweepWorkflow' });

    const deadline = Date.now() + 20_000;
    while ((await schedule.describe()).info.recentActions.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect((await schedule.describe()).info.recentActions.length).toBeGreaterThan(0);

    await schedule.pause('operations pause');
    const paused = await schedule.describe();
    expect(paused.state.paused).toBe(true);
    const before = paused.info.numActionsTaken;
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await schedule.describe()).info.numActionsTaken).toBe(before);
    await schedule.delete();
  }, 40_000);
});
