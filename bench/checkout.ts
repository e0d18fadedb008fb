/**
 * `npm run bench`: checkout throughput and latency through the real API, beside a bare
 * workflow of the same shape on the same Temporal server, measured in the same run;
 * cart operation latency. Prints a table and writes bench/results/latest.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WithStartWorkflowOperation, WorkflowUpdateStage } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app';
import { createActivities } from '../activities';
import { loadConfig } from '../config';
import { temporalClientOptions } from '../temporal/client';
import { payloadDataConverter } from '../temporal/codec';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { holdStock } from '../db/stores/holds';
import { sql } from 'drizzle-orm';
import { createLogger } from '../logger';
import { buildActivityDeps } from '../workers/deps';
import { WORKER_TUNING } from '../workers/worker';
import { measureCartOperations } from './cart-operations';
import { measureFlashSale } from './flash-sale';
import { closeConnections, runLevel } from './harness';

Runtime.install({ logger: new DefaultLogger('ERROR') });

// Activities before the checkout answers (claim, price, hold, authorize, create order) and after.
const BEFORE = 5;
const AFTER = 5;
const LEVELS = [
  { concurrency: 1, requests: 30 },
  { concurrency: 10, requests: 150 },
  { concurrency: 50, requests: 300 },
];

async function main() {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: 'bench', CHECKOUT_WAIT_MS: '30000' });
  const logger = createLogger('silent');
  const dbs = createDatabases({ ...config, databasePoolSize: 40 });
  const redis = createRedis(config);
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const deps = buildActivityDeps({ config, logger, dbs, redis });
  const worker = await Worker.create({
    dataConverter: payloadDataConverter(config.privacy.payloadKeys),
    connection: native,
    taskQueue: 'bench',
    workflowsPath: require.resolve('./workflows'),
    activities: { ...createActivities(deps), noop: async () => undefined },
    ...WORKER_TUNING,
  });
  const running = worker.run();
  const app = createApp({ config, logger, dbs, redis, temporal: client });
  const server = app.listen(0);
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (p: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + p, { method: p.includes('/lines/') ? 'PUT' : 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { id?: string } };
  };

  const run = Date.now().toString(36);
  const sku = `BENCH-${run}`;
  await upsertProduct(dbs.catalog, { sku, name: 'Bench item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 1_000_000);

  const cartOperations = await measureCartOperations(sku);

  const rows: Record<string, unknown>[] = [];
  for (const { concurrency, requests } of LEVELS) {
    const bareBaseline = (localBefore: boolean) =>
      runLevel(concurrency, requests, async (i) => {
        const id = `baseline-${run}-${localBefore ? 'local' : 'remote'}-${concurrency}-${i}`;
        const start = new WithStartWorkflowOperation('baselineWorkflow', {
          workflowId: id,
          taskQueue: 'bench',
          args: [BEFORE, AFTER, localBefore],
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        const handle = await client.workflow.startUpdateWithStart('baselineDone', {
          args: [id],
          waitForStage: WorkflowUpdateStage.ACCEPTED,
          startWorkflowOperation: start,
        });
        await handle.result();
      });
    const baseline = await bareBaseline(false);
    const localBaseline = await bareBaseline(true);
    // carts are made before the clock starts: the checkout is what is measured
    const carts: string[] = [];
    for (let i = 0; i < requests; i++) {
      const cart = await post('/carts', {});
      await post(`/carts/${cart.body.id}/lines/${sku}`, { quantity: 1 });
      carts.push(cart.body.id as string);
    }
    const checkout = await runLevel(concurrency, requests, async (i) => {
      const res = await post('/checkouts', { cartId: carts[i], email: 'bench@example.com', paymentToken: 'tok_visa' }, { 'Idempotency-Key': `bench-${i}` });
      if (res.status !== 201) throw new Error(`checkout answered ${res.status}: ${JSON.stringify(res.body)}`);
    });
    rows.push({
      concurrency,
      requests,
      checkoutPerSecond: +checkout.perSecond.toFixed(1),
      checkoutP50ms: +checkout.p50.toFixed(0),
      checkoutP99ms: +checkout.p99.toFixed(0),
      baselinePerSecond: +baseline.perSecond.toFixed(1),
      baselineP50ms: +baseline.p50.toFixed(0),
      baselineP99ms: +baseline.p99.toFixed(0),
      throughputRatio: +(checkout.perSecond / baseline.perSecond).toFixed(2),
      p50Ratio: +(checkout.p50 / baseline.p50).toFixed(2),
      localBaselinePerSecond: +localBaseline.perSecond.toFixed(1),
      localBaselineP50ms: +localBaseline.p50.toFixed(0),
      ratioVsLocalBaseline: +(checkout.perSecond / localBaseline.perSecond).toFixed(2),
      p50RatioVsLocalBaseline: +(checkout.p50 / localBaseline.p50).toFixed(2),
    });
  }

  // flash sale: 100 units, 2,000 buyers at concurrency 100 (bench/flash-sale.ts, also alone: BENCH_ONLY=flash)
  const flash = await measureFlashSale({ post, dbs, temporal: client, run });

  // inventory: the hold step on one hot SKU vs a raw conditional UPDATE loop, same PostgreSQL
  const hotHold = `HOLD-${run}`;
  await upsertProduct(dbs.catalog, { sku: hotHold, name: 'Hot SKU', priceAmount: 100, currency: 'USD' });
  await setOnHand(dbs.inventory, hotHold, 10_000_000);
  const holdRate = await runLevel(10, 2000, async (i) => {
    await holdStock(dbs.inventory, `bench-hold-${run}-${i}`, [{ sku: hotHold, quantity: 1 }], 600);
  });
  const rawRate = await runLevel(10, 2000, async () => {
    await dbs.inventory.execute(sql`update inventory.stock set reserved = reserved + 1 where sku = ${hotHold} and on_hand - reserved >= 1`);
  });
  const inventory = {
    holdsPerSecond: +holdRate.perSecond.toFixed(0),
    rawUpdatesPerSecond: +rawRate.perSecond.toFixed(0),
    ratio: +(holdRate.perSecond / rawRate.perSecond).toFixed(2),
    holdP99ms: +holdRate.p99.toFixed(1),
  };

  const result = {
    at: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, Temporal CLI dev server (in-memory)`,
    shape: `checkout: ${BEFORE} local activities before the answer, ${AFTER} activities after; baseline: the same number of no-op activities (all regular), update-with-start; local baseline: the same with the ${BEFORE} before the answer local`,
    checkout: rows,
    flashSale: flash,
    inventory,
    cartOperations,
  };
  console.log(`\n${result.machine}\n${result.shape}\n`);
  console.table(rows);
  console.log('flash sale:', result.flashSale);
  console.log('inventory hold vs raw conditional UPDATE (concurrency 10, one SKU):', inventory);
  console.log('cart add/update/get at concurrency 10:', result.cartOperations);
  fs.writeFileSync(path.join(__dirname, 'results', 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);

  server.close();
  worker.shutdown();
  await running;
  deps.mailer.close();
  await closeConnections({ native, client, redis, dbs });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
