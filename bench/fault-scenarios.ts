import type { Client } from '@temporalio/client';
import { loadConfig } from '../config';
import { createRedis } from '../db/redis';
import { services, sleep, startWorker, stopWorker } from './fault-processes';

/** The fault harness's scenarios: each injects one fault while the checkout + refund load runs. */

export type Call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: Record<string, any> }>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What a scenario's fault can act on while the load runs. */
export interface ScenarioContext {
  carts: string[];
  /** The product every cart has one unit of (stock: 80% of the checkouts). */
  sku: string;
  /** A dearer product with plenty of stock: in carts when the scenario asks for it, or added by a cart change. */
  skuB: string;
  /** Checkouts answered `placed` (201, or seen placed by polling), by cart index. */
  placed: Map<number, { checkoutId: string; orderId: string }>;
  client: Client;
  call: Call;
  retrying: Call;
  admin: Record<string, string>;
  notes: string[];
  /** The env the scenario's worker runs with (a restart inside the fault keeps it). */
  workerEnv: Record<string, string>;
}

export interface Scenario {
  name: string;
  workerEnv?: Record<string, string>;
  /** Every cart also holds one unit of skuB (a dearer line). */
  extraLine?: boolean;
  /** The token the checkouts pay with (default tok_visa); a 3-D Secure one makes the load pass, fail or abandon the step. */
  paymentToken?: string;
  /** The local gateway delivers its signed events to the harness's API, this share twice, each up to delayMs late. */
  webhooks?: { duplicates: number; delayMs: number };
  /** Runs while the load is in flight. */
  fault: (ctx: ScenarioContext) => Promise<void>;
  /** Runs after the load and the fault, before the wait for every checkout to be terminal. */
  afterLoad?: (ctx: ScenarioContext) => Promise<void>;
  terminalBoundMs?: number;
}

/** The checkout steps a fault can land before (FAULT_PAUSE_BEFORE), in workflow order. */
const LOCAL_STEPS = ['priceCart', 'holdStock', 'authorizePayment', 'createOrder'] as const;
const ALL_STEPS = [...LOCAL_STEPS, 'capturePayment', 'commitStock', 'markOrderPaid', 'clearCart', 'sendOrderConfirmation'] as const;

/** Cancels (or terminates) the checkout workflows of every other cart, each at its own moment of the window. */
async function stopCheckoutWorkflows(ctx: ScenarioContext, how: 'cancel' | 'terminate', fromMs: number, spanMs: number): Promise<void> {
  let acted = 0;
  await Promise.all(
    ctx.carts.map(async (cartId, i) => {
      if (i % 2 !== 0) return;
      await sleep(fromMs + ((i * 7919) % 1000) * (spanMs / 1000));
      const handle = ctx.client.workflow.getHandle(`checkout-${cartId}`);
      try {
        if (how === 'cancel') await handle.cancel();
        else await handle.terminate('fault harness: terminate');
        acted++;
      } catch {
        /* not started yet, or already closed */
      }
    }),
  );
  ctx.notes.push(`${how === 'cancel' ? 'cancelled' : 'terminated'} ${acted} checkout workflows`);
}

/** Triggers the reconciliation Schedule (a schedule whose workflow type mentions "reconcil") and waits for its run. */
async function runReconciliation(ctx: ScenarioContext): Promise<void> {
  let found: string | undefined;
  for await (const s of ctx.client.schedule.list()) {
    const type = s.action && 'workflowType' in s.action ? String(s.action.workflowType) : '';
    if (/reconcil/i.test(type) || /reconcil/i.test(s.scheduleId)) found = s.scheduleId;
  }
  if (!found) {
    ctx.notes.push('no reconciliation Schedule on this server: the audit shows what terminate leaves');
    return;
  }
  const handle = ctx.client.schedule.getHandle(found);
  const before = (await handle.describe()).info.recentActions.length;
  await handle.trigger();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const d = await handle.describe();
    if (d.info.recentActions.length > before && d.info.runningActions.length === 0) break;
    if (Date.now() > deadline) {
      ctx.notes.push(`reconciliation ${found} did not finish within 120 s`);
      return;
    }
    await sleep(1000);
  }
  ctx.notes.push(`reconciliation ${found} triggered and finished`);
}

/** Every scenario, for `checkouts` checkouts each. */
export function buildScenarios(checkouts: number): Scenario[] {
  const killBefore = (step: string): Scenario => ({
    name: `SIGKILL worker before ${step}`,
    workerEnv: { FAULT_PAUSE_BEFORE: step, FAULT_PAUSE_MS: '4000' },
    fault: async () => {
      await sleep(2500);
      await stopWorker('SIGKILL');
      startWorker();
    },
  });
  const lostReply = (operation: 'authorize' | 'capture' | 'void' | 'refund'): Scenario => ({
    name: `reply lost after ${operation}`,
    workerEnv: {
      GATEWAY_FAULT_MODE: 'lost',
      GATEWAY_FAULT_OPERATIONS: operation,
      GATEWAY_FAULT_COUNT: String(Math.max(1, Math.floor(checkouts / (operation === 'refund' ? 3 : 2)))),
      // voids happen on compensation: cancel half the checkouts after their authorization
      ...(operation === 'void' ? { FAULT_PAUSE_BEFORE: 'createOrder', FAULT_PAUSE_MS: '4000' } : {}),
    },
    fault: async (ctx) => {
      if (operation === 'void') await stopCheckoutWorkflows(ctx, 'cancel', 1500, 2000);
    },
  });
  const cancelAt = (step: string): Scenario => ({
    name: `workflow cancel at ${step}`,
    workerEnv: { FAULT_PAUSE_BEFORE: step, FAULT_PAUSE_MS: '4000' },
    fault: (ctx) => stopCheckoutWorkflows(ctx, 'cancel', 1000, 3000),
  });
  const cartChangedAt = (step: string): Scenario => ({
    name: `cart changed between a crash and the re-run of ${step}`,
    workerEnv: { FAULT_PAUSE_BEFORE: step, FAULT_PAUSE_MS: '6000' },
    fault: async (ctx) => {
      await sleep(2500);
      await stopWorker('SIGKILL');
      // a quantity changed and a SKU added while no worker runs the checkout
      const answers = await Promise.all(
        ctx.carts.map(async (cartId) => [
          (await ctx.call('PUT', `/carts/${cartId}/lines/${ctx.sku}`, { quantity: 2 })).status,
          (await ctx.call('PUT', `/carts/${cartId}/lines/${ctx.skuB}`, { quantity: 1 })).status,
        ]),
      );
      const counts = new Map<number, number>();
      for (const s of answers.flat()) counts.set(s, (counts.get(s) ?? 0) + 1);
      ctx.notes.push(`cart writes mid-checkout answered ${[...counts].map(([s, n]) => `${s}×${n}`).join(', ')}`);
      startWorker();
    },
  });

  return [
    ...['holdStock', 'authorizePayment', 'createOrder', 'capturePayment', 'commitStock'].map(killBefore),
    { name: 'restart Temporal (persisted)', fault: async () => { await sleep(1500); services('stop', 'temporal'); await sleep(1000); services('start', 'temporal'); } },
    { name: 'restart PostgreSQL', fault: async () => { await sleep(1500); services('stop', 'postgres'); await sleep(1000); services('start', 'postgres'); } },
    {
      name: 'FLUSHALL + restart Redis',
      fault: async () => {
        await sleep(1500);
        const redis = createRedis(loadConfig({ ...process.env, ORDERLY_MODE: 'test' }), { maxRetriesPerRequest: 1 });
        redis.on('error', () => undefined);
        await redis.flushall().finally(() => redis.disconnect());
        services('stop', 'redis');
        await sleep(500);
        services('start', 'redis');
      },
    },
    { name: 'gateway 500s for a while', workerEnv: { GATEWAY_FAULT_MODE: '500', GATEWAY_FAULT_COUNT: '25' }, fault: async () => undefined },
    ...(['authorize', 'capture', 'void', 'refund'] as const).map(lostReply),
    {
      // the store activity budget is 10 attempts over ~30 s: 45 s down outlasts it
      name: 'PostgreSQL down 45 s between the answer and paid',
      workerEnv: { FAULT_PAUSE_BEFORE: 'commitStock', FAULT_PAUSE_MS: '10000' },
      fault: async (ctx) => {
        // down once the storefront has its answers (the worker's start-up varies): the orders
        // are placed and their workflows wait before commitStock
        const expected = Math.floor(ctx.carts.length * 0.8);
        for (const deadline = Date.now() + 30_000; ctx.placed.size < expected && Date.now() < deadline; ) await sleep(100);
        ctx.notes.push(`${ctx.placed.size} answered placed when PostgreSQL stopped`);
        services('stop', 'postgres');
        await sleep(45_000);
        services('start', 'postgres');
        ctx.notes.push('PostgreSQL was down 45 s');
      },
    },
    ...ALL_STEPS.map(cancelAt),
    {
      name: 'workflow terminate after the answer, then reconciliation',
      workerEnv: { FAULT_PAUSE_BEFORE: 'capturePayment', FAULT_PAUSE_MS: '4000' },
      fault: (ctx) => stopCheckoutWorkflows(ctx, 'terminate', 500, 3000),
      afterLoad: runReconciliation,
      terminalBoundMs: 60_000,
    },
    ...LOCAL_STEPS.map(cartChangedAt),
    {
      // every fifth customer fails 3-D Secure, every fifth abandons it (the wait is 30 s here), the
      // rest pass and confirm twice at once, while webhooks arrive twice and out of order
      name: '3-D Secure with webhook duplicates and reordering, worker SIGKILLed mid-wait',
      paymentToken: 'tok_threeDSecure2Required',
      webhooks: { duplicates: 0.3, delayMs: 800 },
      fault: async (ctx) => {
        await sleep(3000);
        await stopWorker('SIGKILL');
        await sleep(1000);
        startWorker(ctx.workerEnv);
        ctx.notes.push('worker SIGKILLed 3 s in, restarted 1 s later');
      },
      terminalBoundMs: 90_000,
    },
    {
      name: 'webhook storm: every event twice, reordered, worker SIGKILLed twice',
      webhooks: { duplicates: 1, delayMs: 1500 },
      fault: async (ctx) => {
        for (const at of [2000, 4000]) {
          await sleep(at);
          await stopWorker('SIGKILL');
          startWorker(ctx.workerEnv);
        }
        ctx.notes.push('worker SIGKILLed twice');
      },
    },
    {
      name: '20 concurrent line refunds with restock on a one-unit line',
      extraLine: true,
      fault: async () => undefined,
      afterLoad: async (ctx) => {
        const orders = [...ctx.placed.values()].slice(0, 3);
        const statuses: number[] = [];
        for (const { orderId } of orders) {
          // refunds need the capture: wait until the order is paid
          for (let i = 0; i < 60; i++) {
            const o = await ctx.call('GET', `/orders/${orderId}`);
            if (o.body.status !== 'placed') break;
            await sleep(500);
          }
          const body = { lines: [{ sku: ctx.sku, quantity: 1 }], restock: true, reason: 'fault harness: refund storm' };
          const answers = await Promise.all(
            Array.from({ length: 20 }, (_, j) => ctx.retrying('POST', `/orders/${orderId}/refunds`, body, { ...ctx.admin, 'Idempotency-Key': `storm-${j}` })),
          );
          statuses.push(...answers.map((a) => a.status));
        }
        const counts = new Map<number, number>();
        for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
        ctx.notes.push(`${orders.length} orders × 20 line refunds answered ${[...counts].map(([s, n]) => `${s}×${n}`).join(', ')}`);
      },
    },
  ];
}
