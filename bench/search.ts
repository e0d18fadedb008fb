/**
 * `npm run bench` (second part): how long a catalog change takes to be searchable, through
 * the whole path — admin API → PostgreSQL (product + outbox) → signal → sync workflow →
 * Elasticsearch bulk → refresh → `GET /products?q=` — and how many index writes a hot SKU's stock
 * storm costs. Prints a table and writes bench/results/search-latest.json.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createApp } from '../api/app';
import { createActivities } from '../activities';
import { loadConfig } from '../config';
import { temporalClientOptions } from '../temporal/client';
import { payloadDataConverter } from '../temporal/codec';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { holdStock, releaseHold } from '../db/stores/holds';
import { setOnHand } from '../db/stores/inventory';
import { SearchIndex } from '../db/search-engine/search-index';
import { createLogger } from '../logger';
import { buildActivityDeps } from '../workers/deps';
import { searchSyncWorkflowId } from '../temporal/workflow-ids';
import { closeConnections, pct, runLevel } from './harness';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const UPDATES = Number(process.env.SEARCH_BENCH_UPDATES ?? 500);
const CONCURRENCY = 10;
const PRODUCTS = 100;
const STORM_CHANGES = 2_000;

async function main() {
  const run = Date.now().toString(36);
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: `bench-search-${run}`, SEARCH_INDEX: `bench-${run}` });
  const logger = createLogger('silent');
  const dbs = createDatabases({ ...config, databasePoolSize: 20 });
  const redis = createRedis(config);
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const search = new SearchIndex(config);
  const deps = { ...buildActivityDeps({ config, logger, dbs, redis, temporal: client }), search };
  const worker = await Worker.create({
    dataConverter: payloadDataConverter(config.privacy.payloadKeys),
    connection: native,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities(deps),
  });
  const running = worker.run();
  const app = createApp({ config, logger, dbs, redis, temporal: client, search });
  const server = app.listen(0);
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const put = async (sku: string, name: string, amount: number) => {
    const res = await fetch(`${base}/admin/products/${sku}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${config.adminApiToken}` },
      body: JSON.stringify({ name, description: 'bench product', category: 'bench', price: { amount, currency: 'USD' } }),
    });
    if (res.status !== 200) throw new Error(`PUT answered ${res.status}`);
    return ((await res.json()) as { version: number }).version;
  };
  /** Waits until the storefront's search, `GET /products?q=<token>`, lists the sku. */
  const foundByApi = async (sku: string, token: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await fetch(`${base}/products?q=${token}&limit=5`);
      const body = (await res.json()) as { items: { sku: string }[] };
      if (res.headers.get('x-search-engine') !== 'elasticsearch') throw new Error('search answered from the fallback');
      if (body.items.some((p) => p.sku === sku)) return;
      if (Date.now() > deadline) throw new Error(`${sku} not found by ?q=${token} in 30 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  // Products exist and are indexed before the clock starts.
  const skus = Array.from({ length: PRODUCTS }, (_, i) => `SB-${run}-${i}`);
  const lastToken = `f${randomBytes(6).toString('hex')}`;
  for (const [i, sku] of skus.entries()) await put(sku, `Bench ${sku} ${i === PRODUCTS - 1 ? lastToken : ''}`.trim(), 1000);
  await foundByApi(skus[PRODUCTS - 1] as string, lastToken);

  const lags: number[] = [];
  const { perSecond } = await runLevel(CONCURRENCY, UPDATES, async (i) => {
    const sku = skus[i % PRODUCTS] as string;
    // a random word no other product has: the search is typo-tolerant (2 edits), so
    // counters like upd5 / upd105 would find the older version and flatter the lag
    const token = `u${randomBytes(6).toString('hex')}`;
    await put(sku, `Bench ${sku} ${token}`, 1000 + i);
    const t = performance.now();
    await foundByApi(sku, token);
    lags.push(performance.now() - t);
  });
  const seconds = UPDATES / perSecond;

  // Stock storm: 2,000 holds and releases on one SKU as fast as they go, then count how many
  // documents the sync wrote for it (the debounce: at most one per tick).
  const hot = skus[0] as string;
  await setOnHand(dbs.inventory, hot, 1_000_000);
  await new Promise((r) => setTimeout(r, 3 * config.search.stockSyncMs));
  const before = (await search.client.indices.stats({ index: search.alias, metric: 'indexing' }))._all.primaries?.indexing?.index_total ?? 0;
  const stormStart = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = w; i < STORM_CHANGES / 2; i += CONCURRENCY) {
        await holdStock(dbs.inventory, `storm-${run}-${i}`, [{ sku: hot, quantity: 1 }], 60);
        await releaseHold(dbs.inventory, `storm-${run}-${i}`);
      }
    }),
  );
  const stormSeconds = (performance.now() - stormStart) / 1000;
  await new Promise((r) => setTimeout(r, 3 * config.search.stockSyncMs));
  const after = (await search.client.indices.stats({ index: search.alias, metric: 'indexing' }))._all.primaries?.indexing?.index_total ?? 0;

  const result = {
    at: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model ?? ''}; Elasticsearch 8.19 single node (jar-launched), Temporal dev server in memory`,
    syncLag: {
      updates: UPDATES,
      concurrency: CONCURRENCY,
      updatesPerSecond: +(UPDATES / seconds).toFixed(1),
      p50Ms: Math.round(pct(lags, 50)),
      p99Ms: Math.round(pct(lags, 99)),
      maxMs: Math.round(Math.max(...lags)),
      target: 'p99 < 2000 ms',
    },
    stockStorm: {
      stockChanges: STORM_CHANGES,
      seconds: +stormSeconds.toFixed(1),
      indexWrites: after - before,
      stockSyncMs: config.search.stockSyncMs,
    },
  };
  console.log(`\n${result.machine}`);
  console.table([{ measure: 'PUT /admin/products → found by GET /products?q= (ms)', ...result.syncLag }]);
  console.table([{ measure: 'hot-SKU stock storm', ...result.stockStorm }]);
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'search-latest.json'), `${JSON.stringify(result, null, 2)}\n`);

  await client.workflow.getHandle(searchSyncWorkflowId(config.search.alias)).terminate('bench over').catch(() => undefined);
  worker.shutdown();
  await running;
  server.close();
  server.closeAllConnections();
  await search.close();
  await closeConnections({ native, client, redis, dbs });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
