/**
 * `npm run faults`: a steady checkout + refund load (every POST sent twice at once with
 * the same Idempotency-Key), and during it one fault per scenario. Then an audit from the
 * stores and the gateway's own ledger. Exits non-zero if any "bad" column is not 0 or a
 * checkout is not terminal (or parked for support) within the bound after the fault.
 * Loopback only; every scenario is bounded in time.
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

interface Scenario {
  name: string;
  workerEnv?: Record<string, string>;
  /** Runs while the load is in flight. */
  fault: () => Promise<void>;
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
  const call = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    try {
      const res = await fetch(base + p, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    } catch {
      return { status: 0, body: {} };
    }
  };
  const retrying = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    // a client retries 5xx and network errors with the same key: that is what keys are for
    for (let i = 0; ; i++) {
      const res = await call(method, p, body, headers);
      if ((res.status !== 0 && res.status < 500) || i >= 60) return res;
      await sleep(1000);
    }
  };

  const scenarios: Scenario[] = [
    ...['holdStock', 'authorizePayment', 'createOrder', 'capturePayment', 'commitStock'].map((step) => ({
      name: `SIGKILL worker before ${step}`,
      workerEnv: { FAULT_PAUSE_BEFORE: step, FAULT_PAUSE_MS: '4000' },
      fault: async () => {
        await sleep(2500);
        await stopWorker('SIGKILL');
        startWorker();
      },
    })),
    { name: 'restart Temporal (persisted)', fault: async () => { await sleep(1500); services('stop', 'temporal'); await sleep(1000); services('start', 'temporal'); } },
    { name: 'restart PostgreSQL', fault: async () => { await sleep(1500); services('stop', 'postgres'); await sleep(1000); services('start', 'postgres'); } },
    { name: 'FLUSHALL + restart Redis', fault: async () => { await sleep(1500); await redis.flushall(); services('stop', 'redis'); await sleep(500); services('start', 'redis'); } },
    { name: 'gateway 500s for a while', workerEnv: { GATEWAY_FAULT_MODE: '500', GATEWAY_FAULT_COUNT: '25' }, fault: async () => undefined },
  ];

  const rows: Record<string, string | number>[] = [];
  let failed = false;
  for (const [index, scenario] of scenarios.entries()) {
    startWorker(scenario.workerEnv);
    const sku = `FAULT-${Date.now().toString(36)}-${index}`;
    const units = Math.floor(CHECKOUTS * 0.8);
    await upsertProduct(dbs.catalog, { sku, name: 'Fault item', priceAmount: 1000, currency: 'USD' });
    await setOnHand(dbs.inventory, sku, units);
    const carts: string[] = [];
    for (let i = 0; i < CHECKOUTS; i++) {
      const cart = await retrying('POST', '/carts', { email: 'faults@example.com' });
      await retrying('PUT', `/carts/${cart.body.id}/lines/${sku}`, { quantity: 1 });
      carts.push(cart.body.id as string);
    }

    const faultDone = scenario.fault();
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
        if (orderId && i % 3 === 0) {
          refundAttempts++;
          const r = { amount: { amount: 600, currency: 'USD' }, reason: 'fault load' };
          await Promise.all([
            retrying('POST', `/orders/${orderId}/refunds`, r, { 'Idempotency-Key': 'r1' }),
            retrying('POST', `/orders/${orderId}/refunds`, r, { 'Idempotency-Key': 'r1' }),
            retrying('POST', `/orders/${orderId}/refunds`, r, { 'Idempotency-Key': 'r2' }),
          ]);
        }
      }),
    );
    await faultDone;

    // every checkout terminal (or parked for support) within the bound
    const deadline = Date.now() + TERMINAL_BOUND_MS;
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
    const audit = {
      scenario: scenario.name,
      started: await one(sql`select count(*)::int as n from orders.checkouts where cart_id in (${cartList})`),
      placed: await one(sql`select count(*)::int as n from orders.orders where cart_id in (${cartList}) and status in ('paid', 'partially_refunded', 'refunded')`),
      failed: await one(sql`select count(*)::int as n from orders.checkouts where cart_id in (${cartList}) and status = 'failed'`),
      notTerminal: pending,
      refunds: refundAttempts,
      ordersWithoutCapture: await one(sql`select count(*)::int as n from orders.orders o left join payment.payments p on p.checkout_id = o.checkout_id
        where o.cart_id in (${cartList}) and o.status in ('paid', 'partially_refunded', 'refunded') and coalesce(p.captured_amount, 0) = 0`),
      authorizationsWithoutOrder: await one(sql`select count(*)::int as n from local_gateway.operations a
        where a.operation = 'authorize' and a.outcome = 'authorized' and split_part(a.idempotency_key, '/', 2) in ${checkouts}
          and not exists (select 1 from orders.orders o where o.checkout_id = split_part(a.idempotency_key, '/', 2) and o.status in ('paid', 'partially_refunded', 'refunded'))
          and not exists (select 1 from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation in ('void', 'capture'))`),
      capturesWithoutOrder: await one(sql`select count(*)::int as n from local_gateway.operations a
        where a.operation = 'authorize' and a.outcome = 'authorized' and split_part(a.idempotency_key, '/', 2) in ${checkouts}
          and not exists (select 1 from orders.orders o where o.checkout_id = split_part(a.idempotency_key, '/', 2) and o.status in ('paid', 'partially_refunded', 'refunded'))
          and coalesce((select sum(amount) from local_gateway.operations c where c.payment_ref = a.payment_ref and c.operation = 'capture'), 0)
            > coalesce((select sum(amount) from local_gateway.operations r where r.payment_ref = a.payment_ref and r.operation = 'refund'), 0)`),
      doubleCharges: await one(sql`select count(*)::int as n from (
          select split_part(idempotency_key, '/', 2) as checkout_id from local_gateway.operations
          where operation in ('authorize', 'capture') and outcome <> 'declined' and split_part(idempotency_key, '/', 2) in ${checkouts}
          group by 1, operation having count(*) > 1) d`),
      oversold: await one(sql`select count(*)::int as n from inventory.stock where sku = ${sku} and (on_hand + sold <> ${units} or on_hand < 0 or sold > ${units})`),
      soldMismatch: await one(sql`select abs((select sold from inventory.stock where sku = ${sku}) - (select coalesce(sum(l.quantity), 0) from orders.order_lines l join orders.orders o on o.id = l.order_id
        where o.cart_id in (${cartList}) and o.status in ('paid', 'partially_refunded', 'refunded')))::int as n`),
      holdsLeaked: await one(sql`select count(*)::int as n from inventory.holds where sku = ${sku} and status = 'held'`),
      refundsOverCapture: await one(sql`select count(*)::int as n from payment.payments where checkout_id in ${checkouts} and refunded_amount + refund_pending_amount > captured_amount`),
      cartsLost: 0,
    };
    for (const cartId of carts) if ((await call('GET', `/carts/${cartId}`)).status !== 200) audit.cartsLost++;
    const bad = ['notTerminal', 'ordersWithoutCapture', 'authorizationsWithoutOrder', 'capturesWithoutOrder', 'doubleCharges', 'oversold', 'soldMismatch', 'holdsLeaked', 'refundsOverCapture', 'cartsLost'] as const;
    if (bad.some((k) => audit[k] !== 0)) failed = true;
    rows.push(audit);
    console.log(audit);
  }

  console.table(rows);
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'faults-latest.json'), `${JSON.stringify({ at: new Date().toISOString(), checkoutsPerScenario: CHECKOUTS, rows }, null, 2)}\n`);
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
