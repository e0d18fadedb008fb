/**
 * Paired A/B of the checkout under load, in one process and one run: two workers (each with its
 * own workflow bundle and worker options, on a task queue of its own) and two APIs, the rounds
 * alternated A B B A … so drift on a shared machine falls on both sides. Prints each round and
 * the median ratio A/B of checkouts per second and of p50. Not part of `npm run bench`; a tool
 * for deciding a change (docs/performance.md says what it decided):
 *   AB_A_WORKFLOWS / AB_B_WORKFLOWS  a workflows module (default: bench/workflows.ts of this tree),
 *                                    e.g. the same file in a `git worktree` of the commit before
 *   AB_A_TUNING / AB_B_TUNING        JSON worker options over workers/worker.ts WORKER_TUNING
 *   AB_ROUNDS (6), AB_CONCURRENCY (50), AB_REQUESTS (150)
 *   ORDERLY_DATA_DIR=$(mktemp -d) AB_B_TUNING='{"maxCachedWorkflows":200}' \
 *     node --import file://$PWD/node_modules/tsx/dist/loader.mjs bench/checkout-ab.ts
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createApp } from '../api/app';
import { createActivities } from '../activities';
import { loadConfig } from '../config';
import { temporalClientOptions } from '../temporal/client';
import { payloadDataConverter } from '../temporal/codec';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { createLogger } from '../logger';
import { buildActivityDeps } from '../workers/deps';
import { WORKER_TUNING } from '../workers/worker';
import { closeConnections, runLevel } from './harness';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const ROUNDS = Number(process.env.AB_ROUNDS ?? 6);
const CONCURRENCY = Number(process.env.AB_CONCURRENCY ?? 50);
const REQUESTS = Number(process.env.AB_REQUESTS ?? 150);
const run = Date.now().toString(36);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main() {
  const base = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', CHECKOUT_WAIT_MS: '30000' });
  const logger = createLogger('silent');
  const dbs = createDatabases({ ...base, databasePoolSize: 40 });
  const redis = createRedis(base);
  const client = new Client(temporalClientOptions(base, await Connection.connect({ address: base.temporal.address })));
  const native = await NativeConnection.connect({ address: base.temporal.address });
  const deps = buildActivityDeps({ config: base, logger, dbs, redis });
  const sku = `AB-${run}`;
  await upsertProduct(dbs.catalog, { sku, name: 'A/B item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 10_000_000);

  const side = async (name: 'A' | 'B') => {
    const taskQueue = `ab-${name}-${run}`;
    const workflowsPath = path.resolve(process.env[`AB_${name}_WORKFLOWS`] ?? require.resolve('./workflows'));
    const tuning = JSON.parse(process.env[`AB_${name}_TUNING`] ?? '{}') as Partial<WorkerOptions>;
    const worker = await Worker.create({
      dataConverter: payloadDataConverter(base.privacy.payloadKeys),
      connection: native,
      taskQueue,
      workflowsPath,
      activities: { ...createActivities(deps), noop: async () => undefined },
      ...WORKER_TUNING,
      ...tuning,
    });
    const running = worker.run();
    const config = { ...base, temporal: { ...base.temporal, taskQueue } };
    const server = createApp({ config, logger, dbs, redis, temporal: client }).listen(0);
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const post = async (p: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(url + p, { method: p.includes('/lines/') ? 'PUT' : 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as { id?: string } };
    };
    const level = async (round: number, requests: number) => {
      const carts: string[] = [];
      for (let i = 0; i < requests; i++) {
        const cart = await post('/carts', {});
        await post(`/carts/${cart.body.id}/lines/${sku}`, { quantity: 1 });
        carts.push(cart.body.id as string);
      }
      let late = 0;
      let errors = 0;
      const level = await runLevel(CONCURRENCY, requests, async (i) => {
        const res = await post('/checkouts', { cartId: carts[i], email: 'ab@example.com', paymentToken: 'tok_visa' }, { 'Idempotency-Key': `ab-${name}-${run}-${round}-${i}` });
        // 202 (not answered within CHECKOUT_WAIT_MS, 30 s) and 5xx on an overloaded machine: counted, not fatal
        if (res.status === 202) late++;
        else if (res.status >= 500) errors++;
        else if (res.status !== 201) throw new Error(`${name}: checkout answered ${res.status}: ${JSON.stringify(res.body)}`);
      });
      return { ...level, late, errors };
    };
    const close = async () => {
      server.close();
      worker.shutdown();
      await running;
    };
    return { name, workflowsPath, tuning, level, close };
  };
  const sides = { A: await side('A'), B: await side('B') };
  console.log(`A: ${sides.A.workflowsPath} ${JSON.stringify(sides.A.tuning)}\nB: ${sides.B.workflowsPath} ${JSON.stringify(sides.B.tuning)}`);
  // warm-up, not measured
  await sides.A.level(-1, 20);
  await sides.B.level(-1, 20);
  const rows: Record<string, number>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
    type Level = Awaited<ReturnType<typeof sides.A.level>>;
    const got: Record<string, Level> = {};
    for (const s of order) got[s] = await sides[s].level(round, REQUESTS);
    const a = got.A as Level;
    const b = got.B as Level;
    const row = {
      round,
      aPerSecond: +a.perSecond.toFixed(1),
      bPerSecond: +b.perSecond.toFixed(1),
      aP50ms: +a.p50.toFixed(0),
      bP50ms: +b.p50.toFixed(0),
      aP99ms: +a.p99.toFixed(0),
      bP99ms: +b.p99.toFixed(0),
      aLate202: a.late,
      bLate202: b.late,
      a5xx: a.errors,
      b5xx: b.errors,
      throughputAoverB: +(a.perSecond / b.perSecond).toFixed(2),
      p50AoverB: +(a.p50 / b.p50).toFixed(2),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  console.table(rows);
  console.log(
    `median over ${ROUNDS} rounds at concurrency ${CONCURRENCY}: throughput A/B ${median(rows.map((r) => r.throughputAoverB as number))}, p50 A/B ${median(rows.map((r) => r.p50AoverB as number))}`,
  );
  await sides.A.close();
  await sides.B.close();
  deps.mailer.close();
  await closeConnections({ native, client, redis, dbs });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
