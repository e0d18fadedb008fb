/**
 * `npm run faults`: a steady checkout + refund load (every POST sent twice at once with
 * the same Idempotency-Key), and during it one fault per scenario. Then an audit from the
 * stores and the gateway's own ledger (local_gateway.operations). Exits non-zero if any
 * "bad" column is not 0 or a checkout is not terminal (or parked for support) within the
 * bound after the fault. Loopback only; every scenario is bounded in time.
 *
 * FAULT_CHECKOUTS (default 30) checkouts per scenario; FAULT_SCENARIOS=<substring>[,<substring>]
 * runs only the scenarios whose name contains one of them (case-insensitive).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { createApp } from '../api/app';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { createLogger } from '../logger';

const ROOT = path.resolve(__dirname, '..');
const TSX = ['--import', `file://${ROOT}/node_modules/tsx/dist/loader.mjs`];
const CHECKOUTS = Number(process.env.FAULT_CHECKOUTS ?? 30);
const TERMINAL_BOUND_MS = 180_000;
const SCENARIO_FILTER = (process.env.FAULT_SCENARIOS ?? '')
  .split(',')
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);
/** Order statuses that mean "the customer paid for this order" (refunds included). */
const PAID = sql`('paid', 'fulfilled', 'partially_refunded', 'refunded')`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function services(action: 'start' | 'stop', which: string): void {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/services.sh'), action], { env: { ...process.env, SERVICES: which }, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`services.sh ${action} ${which} failed`);
}

let worker: ChildProcess | undefined;
function startWorker(env: Record<string, string> = {}): void {
  worker = spawn(process.execPath, [...TSX, path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: 'ignore',
  });
}
async function stopWorker(signal: NodeJS.Signals): Promise<void> {
  const w = worker;
  worker = undefined;
  if (!w || w.exitCode !== null) return;
  const exited = new Promise((r) => w.once('exit', r));
  w.kill(signal);
  await exited;
}

type Call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: Record<string, any> }>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What a scenario's fault can act on while the load runs. */
interface ScenarioContext {
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
}

interface Scenario {
  name: string;
  workerEnv?: Record<string, string>;
  /** Every cart also holds one unit of skuB (a dearer line). */
  extraLine?: boolean;
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

function buildScenarios(): Scenario[] {
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
      GATEWAY_FAULT_COUNT: String(Math.max(1, Math.floor(CHECKOUTS / (operation === 'refund' ? 3 : 2)))),
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
        const redis = new Redis(loadConfig({ ...process.env, ORDERLY_MODE: 'test' }).redisUrl, { maxRetriesPerRequest: 1 });
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

async function main() {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', CHECKOUT_WAIT_MS: '3000' });
  const logger = createLogger('silent');
  const dbs = createDatabases(config);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const client = new Client({ connection: await Connection.connect({ address: config.temporal.address }) });
  const app = createApp({ config, logger, dbs, redis, temporal: client });
  const server = app.listen(0);
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const admin = { Authorization: `Bearer ${config.adminApiToken}` };
  const call: Call = async (method, p, body, headers = {}) => {
    try {
      const res = await fetch(base + p, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    } catch {
      return { status: 0, body: {} };
    }
  };
  const retrying: Call = async (method, p, body, headers = {}) => {
    // a client retries 5xx and network errors with the same key: that is what keys are for
    for (let i = 0; ; i++) {
      const res = await call(method, p, body, headers);
      if ((res.status !== 0 && res.status < 500) || i >= 60) return res;
      await sleep(1000);
    }
  };

  const all = buildScenarios();
  const scenarios = SCENARIO_FILTER.length ? all.filter((s) => SCENARIO_FILTER.some((f) => s.name.toLowerCase().includes(f))) : all;
  if (scenarios.length === 0) throw new Error(`FAULT_SCENARIOS=${process.env.FAULT_SCENARIOS} matches no scenario; names: ${all.map((s) => s.name).join('; ')}`);

  const rows: Record<string, string | number>[] = [];
  let failed = false;
  const runStarted = Date.now();
  for (const [index, scenario] of scenarios.entries()) {
    const scenarioStarted = Date.now();
    startWorker(scenario.workerEnv);
    const stamp = `${Date.now().toString(36)}-${index}`;
    const sku = `FAULT-${stamp}`;
    const skuB = `FAULT-${stamp}-B`;
    const units = Math.floor(CHECKOUTS * 0.8);
    const unitsB = CHECKOUTS * 3;
    await upsertProduct(dbs.catalog, { sku, name: 'Fault item', priceAmount: 1000, currency: 'USD' });
    await setOnHand(dbs.inventory, sku, units);
    await upsertProduct(dbs.catalog, { sku: skuB, name: 'Dearer fault item', priceAmount: 5000, currency: 'USD' });
    await setOnHand(dbs.inventory, skuB, unitsB);
    const carts: string[] = [];
    for (let i = 0; i < CHECKOUTS; i++) {
      const cart = await retrying('POST', '/carts', { email: 'faults@example.com' });
      await retrying('PUT', `/carts/${cart.body.id}/lines/${sku}`, { quantity: 1 });
      if (scenario.extraLine) await retrying('PUT', `/carts/${cart.body.id}/lines/${skuB}`, { quantity: 1 });
      carts.push(cart.body.id as string);
    }

    const ctx: ScenarioContext = { carts, sku, skuB, placed: new Map(), client, call, retrying, admin, notes: [] };
    const faultDone = scenario.fault(ctx);
    let refundAttempts = 0;
    await Promise.all(
      carts.map(async (cartId, i) => {
        const key = { 'Idempotency-Key': `fault-${i}` };
        const body = { cartId, email: 'faults@example.com', paymentToken: 'tok_visa' };
        const [a] = await Promise.all([retrying('POST', '/checkouts', body, key), retrying('POST', '/checkouts', body, key)]);
        let orderId = a.status === 201 ? (a.body.orderId as string) : undefined;
        for (let poll = 0; a.status === 202 && !orderId && poll < 120; poll++) {
          await sleep(500);
          const status = await call('GET', `/checkouts/${a.body.checkoutId}`);
          if (status.body.status === 'failed') break;
          if (status.body.status === 'placed') orderId = status.body.orderId as string;
        }
        if (orderId) ctx.placed.set(i, { checkoutId: a.body.checkoutId as string, orderId });
        if (orderId && i % 3 === 0) {
          refundAttempts++;
          const r = { amount: { amount: 600, currency: 'USD' }, reason: 'fault load' };
          await Promise.all([
            retrying('POST', `/orders/${orderId}/refunds`, r, { ...admin, 'Idempotency-Key': 'r1' }),
            retrying('POST', `/orders/${orderId}/refunds`, r, { ...admin, 'Idempotency-Key': 'r1' }),
            retrying('POST', `/orders/${orderId}/refunds`, r, { ...admin, 'Idempotency-Key': 'r2' }),
          ]);
        }
      }),
    );
    await faultDone;
    await scenario.afterLoad?.(ctx);

    // every checkout terminal (or parked for support) within the bound
    const deadline = Date.now() + (scenario.terminalBoundMs ?? TERMINAL_BOUND_MS);
    const cartList = sql.join(carts.map((c) => sql`${c}`), sql`, `);
    let pending = Infinity;
    while (Date.now() < deadline) {
      const r = await dbs.order.execute(sql`select count(*)::int as n from orders.checkouts c
        left join orders.orders o on o.checkout_id = c.checkout_id
        where c.cart_id in (${cartList}) and (c.status = 'pending' or o.status = 'placed')`).catch(() => undefined);
      pending = Number((r?.rows[0] as { n?: number } | undefined)?.n ?? Infinity);
      const refundsPending = await dbs.payment.execute(sql`select count(*)::int as n from payment.refunds where status = 'pending' and order_id in (select id from orders.orders where cart_id in (${cartList}))`).catch(() => undefined);
      if (pending === 0 && Number((refundsPending?.rows[0] as { n?: number } | undefined)?.n ?? 1) === 0) break;
      await sleep(1000);
    }
    await stopWorker('SIGTERM');

    const one = async (q: ReturnType<typeof sql>) => Number(((await dbs.order.execute(q)).rows[0] as { n: number }).n);
    const checkouts = sql`(select checkout_id from orders.checkouts where cart_id in (${cartList}))`;
    const orderIds = sql`(select id from orders.orders where cart_id in (${cartList}))`;
    const skus = sql`(${sku}, ${skuB})`;
    const received = sql`(case s.sku when ${sku} then ${units}::int else ${unitsB}::int end)`;
    /** Per gateway payment of these checkouts: what the gateway's own ledger says happened. */
    const gatewayPayments = sql`(select a.payment_ref, split_part(a.idempotency_key, '/', 2) as checkout_id, a.amount as authorized,
        coalesce((select sum(x.amount) from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation = 'capture'), 0) as captured,
        coalesce((select sum(x.amount) from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation = 'refund'), 0) as refunded,
        exists (select 1 from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation = 'void') as voided
      from local_gateway.operations a
      where a.operation = 'authorize' and a.outcome = 'authorized' and split_part(a.idempotency_key, '/', 2) in ${checkouts})`;
    /** Units refunded per order line, summed over the order's succeeded refunds (payment.refunds.lines). */
    const refundedLines = sql`(select r.order_id, l->>'sku' as sku, sum((l->>'quantity')::int) as refunded
      from payment.refunds r cross join jsonb_array_elements(coalesce(r.lines, '[]'::jsonb)) l
      where r.status = 'succeeded' and r.order_id in ${orderIds} group by 1, 2)`;
    const audit = {
      scenario: scenario.name,
      seconds: 0,
      started: await one(sql`select count(*)::int as n from orders.checkouts where cart_id in (${cartList})`),
      placed: await one(sql`select count(*)::int as n from orders.orders where cart_id in (${cartList}) and status in ${PAID}`),
      failed: await one(sql`select count(*)::int as n from orders.checkouts where cart_id in (${cartList}) and status = 'failed'`),
      parked: await one(sql`select count(*)::int as n from orders.orders where cart_id in (${cartList}) and status = 'needs_attention'`),
      notTerminal: pending,
      refunds: refundAttempts,
      ordersWithoutCapture: await one(sql`select count(*)::int as n from orders.orders o left join payment.payments p on p.checkout_id = o.checkout_id
        where o.cart_id in (${cartList}) and o.status in ${PAID} and coalesce(p.captured_amount, 0) = 0`),
      authorizationsWithoutOrder: await one(sql`select count(*)::int as n from local_gateway.operations a
        where a.operation = 'authorize' and a.outcome = 'authorized' and split_part(a.idempotency_key, '/', 2) in ${checkouts}
          and not exists (select 1 from orders.orders o where o.checkout_id = split_part(a.idempotency_key, '/', 2) and o.status in ${PAID})
          and not exists (select 1 from orders.orders o where o.checkout_id = split_part(a.idempotency_key, '/', 2) and o.status = 'needs_attention')
          and not exists (select 1 from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation in ('void', 'capture'))`),
      capturesWithoutOrder: await one(sql`select count(*)::int as n from ${gatewayPayments} g
        where g.captured > g.refunded
          and not exists (select 1 from orders.orders o where o.checkout_id = g.checkout_id and o.status in ${PAID})`),
      doubleCharges: await one(sql`select count(*)::int as n from (
          select split_part(idempotency_key, '/', 2) as checkout_id from local_gateway.operations
          where operation in ('authorize', 'capture') and outcome <> 'declined' and split_part(idempotency_key, '/', 2) in ${checkouts}
          group by 1, operation having count(*) > 1) d`),
      /** A paid order charged other than its total (a re-run that re-priced a changed cart). */
      chargeMismatch: await one(sql`select count(*)::int as n from orders.orders o join ${gatewayPayments} g on g.checkout_id = o.checkout_id
        where o.cart_id in (${cartList}) and o.status in ${PAID} and (g.authorized <> o.total_amount or g.captured <> o.total_amount
          or o.total_amount <> (select coalesce(sum(l.line_total_amount), 0) from orders.order_lines l where l.order_id = o.id))`),
      /** Paid orders whose committed stock holds differ from their lines, and holds committed for an order not paid. */
      orderHoldMismatch: await one(sql`select count(*)::int as n from orders.checkouts c left join orders.orders o on o.checkout_id = c.checkout_id
        where c.cart_id in (${cartList}) and (
          (o.status in ${PAID} and exists (
            select 1 from (select l.sku, l.quantity from orders.order_lines l where l.order_id = o.id) ol
            full join (select h.sku, h.quantity from inventory.holds h where h.hold_id = c.checkout_id and h.status = 'committed') ch on ch.sku = ol.sku
            where ol.quantity is distinct from ch.quantity))
          or ((o.status is null or o.status not in ${PAID}) and o.status is distinct from 'needs_attention'
            and exists (select 1 from inventory.holds h where h.hold_id = c.checkout_id and h.status = 'committed')))`),
      oversold: await one(sql`select count(*)::int as n from inventory.stock s where s.sku in ${skus} and (s.on_hand + s.sold <> ${received} or s.on_hand < 0 or s.reserved > s.on_hand)`),
      /** Stock that is neither on hand, nor sold, nor returned: on_hand ≠ received − committed sales + restocks, or more restocked than sold. */
      phantomStock: await one(sql`select count(*)::int as n from inventory.stock s,
          lateral (select coalesce(sum(h.quantity), 0)::int as committed from inventory.holds h where h.sku = s.sku and h.status = 'committed') c,
          lateral (select coalesce(sum(r.quantity), 0)::int as restocked from inventory.restocks r where r.sku = s.sku) r
        where s.sku in ${skus} and (s.on_hand <> ${received} - c.committed + r.restocked or r.restocked > c.committed)`),
      soldMismatch: await one(sql`select count(*)::int as n from inventory.stock s where s.sku in ${skus} and s.sold + coalesce((select sum(r.quantity) from inventory.restocks r where r.sku = s.sku), 0)
        <> (select coalesce(sum(l.quantity), 0) from orders.order_lines l join orders.orders o on o.id = l.order_id
          where o.cart_id in (${cartList}) and o.status in ${PAID} and l.sku = s.sku)`),
      holdsLeaked: await one(sql`select count(*)::int as n from inventory.holds where sku in ${skus} and status = 'held'`),
      refundsOverCapture: await one(sql`select count(*)::int as n from payment.payments where checkout_id in ${checkouts} and refunded_amount + refund_pending_amount > captured_amount`),
      /** Per order line: units refunded (summed over refunds) above units sold, or units restocked above units refunded. */
      refundedOverSold: await one(sql`select count(*)::int as n from orders.order_lines l
        left join ${refundedLines} rl on rl.order_id = l.order_id and rl.sku = l.sku
        where l.order_id in ${orderIds} and (coalesce(rl.refunded, 0) > l.quantity
          or coalesce((select sum(x.quantity) from inventory.restocks x where x.sku = l.sku
            and x.restock_id in (select r.id from payment.refunds r where r.order_id = l.order_id)), 0) > coalesce(rl.refunded, 0))`),
      /** Our payment rows against the gateway's ledger: authorized / captured / refunded / voided per payment ref. */
      ledgerVsGateway: await one(sql`select count(*)::int as n from ${gatewayPayments} g left join payment.payments p on p.gateway_ref = g.payment_ref
        where p.id is null or p.authorized_amount <> g.authorized or p.captured_amount <> g.captured or p.refunded_amount <> g.refunded
          or (p.status = 'voided') <> g.voided`),
      /** An order paid (or refunded) whose checkout says failed. */
      paidMarkedFailed: await one(sql`select count(*)::int as n from orders.orders o join orders.checkouts c on c.checkout_id = o.checkout_id
        where o.cart_id in (${cartList}) and o.status in ${PAID} and c.status = 'failed'`),
      /** An order answered `placed` (201) that did not end paid (or parked): a point of no return crossed back. */
      placedThenUndone: 0,
      cartsLost: 0,
    };
    // CheckoutStatus=failed in Temporal for a paid order (what support sees in the Web UI)
    const paidRuns = (await dbs.order.execute(sql`select c.workflow_id, c.run_id from orders.orders o join orders.checkouts c on c.checkout_id = o.checkout_id
      where o.cart_id in (${cartList}) and o.status in ${PAID} and c.run_id is not null`)).rows as { workflow_id: string; run_id: string }[];
    for (const r of paidRuns) {
      const d = await client.workflow.getHandle(r.workflow_id, r.run_id).describe().catch(() => undefined);
      const status = d?.searchAttributes?.CheckoutStatus?.[0];
      if (status === 'failed' || status === 'cancelled') audit.paidMarkedFailed++;
    }
    const answered = [...ctx.placed.values()].map((p) => p.orderId);
    if (answered.length) {
      audit.placedThenUndone = await one(sql`select count(*)::int as n from orders.orders where id in (${sql.join(answered.map((id) => sql`${id}`), sql`, `)})
        and status not in ${PAID} and status <> 'needs_attention'`);
    }
    for (const cartId of carts) if ((await call('GET', `/carts/${cartId}`)).status !== 200) audit.cartsLost++;
    audit.seconds = Math.round((Date.now() - scenarioStarted) / 1000);
    const bad = [
      'notTerminal', 'ordersWithoutCapture', 'authorizationsWithoutOrder', 'capturesWithoutOrder', 'doubleCharges', 'chargeMismatch', 'orderHoldMismatch',
      'oversold', 'phantomStock', 'soldMismatch', 'holdsLeaked', 'refundsOverCapture', 'refundedOverSold', 'ledgerVsGateway', 'paidMarkedFailed',
      'placedThenUndone', 'cartsLost',
    ] as const;
    const badHere = bad.filter((k) => audit[k] !== 0);
    if (badHere.length) failed = true;
    const row = { ...audit, bad: badHere.join(' '), notes: ctx.notes.join('; ') };
    rows.push(row);
    console.log(row);
  }

  console.table(rows.map(({ notes: _notes, ...r }) => r));
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(
    path.join(__dirname, 'results', 'faults-latest.json'),
    `${JSON.stringify({ at: new Date().toISOString(), checkoutsPerScenario: CHECKOUTS, scenarioFilter: SCENARIO_FILTER, seconds: Math.round((Date.now() - runStarted) / 1000), rows }, null, 2)}\n`,
  );
  server.close();
  await client.connection.close();
  redis.disconnect();
  await dbs.close();
  process.exit(failed ? 1 : 0);
}

main().catch(async (err: unknown) => {
  console.error(err);
  await stopWorker('SIGKILL');
  process.exit(1);
});
