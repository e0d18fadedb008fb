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
import fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { createApp } from '../api/app';
import { loadConfig } from '../config';
import { temporalClientOptions } from '../temporal/client';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { createLogger } from '../logger';
import { auditScenario, BAD } from './fault-audit';
import { sleep, startWorker, stopWorker } from './fault-processes';
import { buildScenarios, type Call, type ScenarioContext } from './fault-scenarios';

const CHECKOUTS = Number(process.env.FAULT_CHECKOUTS ?? 30);
const TERMINAL_BOUND_MS = 180_000;
const SCENARIO_FILTER = (process.env.FAULT_SCENARIOS ?? '')
  .split(',')
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);

async function main() {
  // the port first: the local gateway's signed events (webhooks) go to this API
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const webhookUrl = `${base}/webhooks/stripe`;
  // a 3-D Secure step not taken is given up after 30 s here (15 min by default)
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', CHECKOUT_WAIT_MS: '3000', PAYMENT_ACTION_TIMEOUT_MINUTES: '0.5', LOCAL_GATEWAY_WEBHOOK_URL: webhookUrl });
  const logger = createLogger('silent');
  const dbs = createDatabases(config);
  const redis = createRedis(config, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  const app = createApp({ config, logger, dbs, redis, temporal: client });
  server.on('request', app);
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

  const all = buildScenarios(CHECKOUTS);
  const scenarios = SCENARIO_FILTER.length ? all.filter((s) => SCENARIO_FILTER.some((f) => s.name.toLowerCase().includes(f))) : all;
  if (scenarios.length === 0) throw new Error(`FAULT_SCENARIOS=${process.env.FAULT_SCENARIOS} matches no scenario; names: ${all.map((s) => s.name).join('; ')}`);

  const rows: Record<string, string | number>[] = [];
  let failed = false;
  const runStarted = Date.now();
  for (const [index, scenario] of scenarios.entries()) {
    const scenarioStarted = Date.now();
    const workerEnv: Record<string, string> = {
      ...scenario.workerEnv,
      ...(scenario.webhooks
        ? { LOCAL_GATEWAY_WEBHOOK_URL: webhookUrl, LOCAL_GATEWAY_WEBHOOK_DUPLICATES: String(scenario.webhooks.duplicates), LOCAL_GATEWAY_WEBHOOK_DELAY_MS: String(scenario.webhooks.delayMs) }
        : {}),
    };
    startWorker(workerEnv);
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

    const ctx: ScenarioContext = { carts, sku, skuB, placed: new Map(), client, call, retrying, admin, notes: [], workerEnv };
    const faultDone = scenario.fault(ctx);
    let refundAttempts = 0;
    await Promise.all(
      carts.map(async (cartId, i) => {
        const key = { 'Idempotency-Key': `fault-${i}` };
        const body = { cartId, email: 'faults@example.com', paymentToken: scenario.paymentToken ?? 'tok_visa' };
        const [a] = await Promise.all([retrying('POST', '/checkouts', body, key), retrying('POST', '/checkouts', body, key)]);
        let orderId = a.status === 201 ? (a.body.orderId as string) : undefined;
        // 3-D Secure: the customer passes (3 in 5), fails (1 in 5) or walks away (1 in 5); a pass is confirmed twice at once
        let nextAction = a.body.nextAction as { clientSecret: string } | undefined;
        // answered before the payment step was known (the wait ran out): the storefront polls for it
        for (let poll = 0; scenario.paymentToken && a.status === 202 && !nextAction && poll < 60; poll++) {
          await sleep(500);
          const status = await call('GET', `/checkouts/${a.body.checkoutId}`);
          if (status.body.status !== 'pending') break;
          nextAction = status.body.nextAction as { clientSecret: string } | undefined;
        }
        if (a.status === 202 && nextAction && i % 5 !== 3) {
          await retrying('POST', '/local-gateway/authenticate', { clientSecret: nextAction.clientSecret, outcome: i % 5 === 4 ? 'fail' : 'pass' });
          const [c] = await Promise.all([retrying('POST', `/checkouts/${a.body.checkoutId}/confirm`), retrying('POST', `/checkouts/${a.body.checkoutId}/confirm`)]);
          if (c.status === 201) orderId = c.body.orderId as string;
        }
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

    const audit = await auditScenario(dbs, client, call, { name: scenario.name, carts, sku, skuB, units, unitsB, pending, refundAttempts, placed: ctx.placed });
    audit.seconds = Math.round((Date.now() - scenarioStarted) / 1000);
    const badHere = BAD.filter((k) => audit[k] !== 0);
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
