import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { measureCartOperations } from './cart-operations';
import { measurePutVsBare } from './cart-put';

/**
 * Only the cart part of `npm run bench` (BENCH_ONLY=carts):
 * - `PUT` line against the API beside a bare Express route running the same Redis script,
 *   alternating rounds at concurrency 10 (bench/cart-put.ts), target p99 <= 1.5x the bare route;
 * - add/update/get at concurrency 10 against the API in its own process;
 * each on the single node (REDIS_URL) and, when BENCH_REDIS_CLUSTER_NODES is set, on that Redis
 * Cluster. Prints one row per measurement, writes bench/results/carts-latest.json.
 * BENCH_CART_ROUNDS (default 6) rounds of BENCH_CART_PER_ROUND (default 500) requests per side;
 * BENCH_CART_API_ROOT: run another tree's api/server.ts (a before figure); BENCH_CART_CPU_PROF=<dir>:
 * the API runs under `node --cpu-prof` and leaves its profile there (open it in Chrome DevTools);
 * BENCH_CART_OPERATIONS=0: the PUT comparison only.
 */
async function main() {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent' });
  const dbs = createDatabases(config);
  const sku = `BENCH-CART-${Date.now().toString(36)}`;
  await upsertProduct(dbs.catalog, { sku, name: 'Bench item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 1_000_000);
  await dbs.close();
  const rounds = Number(process.env.BENCH_CART_ROUNDS ?? 6);
  const perRound = Number(process.env.BENCH_CART_PER_ROUND ?? 500);
  const apiRoot = process.env.BENCH_CART_API_ROOT;
  const profDir = process.env.BENCH_CART_CPU_PROF;
  const apiNodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const cluster = process.env.BENCH_REDIS_CLUSTER_NODES;
  const targets: [string, Record<string, string>][] = [['single node', { REDIS_CLUSTER_NODES: '' }]];
  if (cluster) targets.push([`cluster ${cluster}`, { REDIS_CLUSTER_NODES: cluster }]);
  const loadBefore = os.loadavg()[0];
  const put: Record<string, unknown>[] = [];
  const operations: Record<string, unknown>[] = [];
  for (const [redis, env] of targets) {
    const row = { redis, ...(await measurePutVsBare(sku, { env, rounds, perRound, apiRoot, apiNodeArgs })) };
    console.log(JSON.stringify({ part: 'PUT line vs bare script', ...row }));
    put.push(row);
  }
  for (const [redis, env] of process.env.BENCH_CART_OPERATIONS === '0' ? [] : targets) {
    const row = { redis, ...(await measureCartOperations(sku, env)) };
    console.log(JSON.stringify({ part: 'add/update/get', ...row }));
    operations.push(row);
  }
  const result = {
    at: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, load average (1 min) ${loadBefore?.toFixed(2)} before, ${os.loadavg()[0]?.toFixed(2)} after`,
    command: 'BENCH_ONLY=carts npm run bench (or: node --import tsx bench/carts.ts with the services)',
    shape: 'PUT /carts/:id/lines/:sku at concurrency 10 on carts with an email, the API (catalog read, Lua script, PostgreSQL backup, pricing) vs a bare Express route running the same Lua script, each in its own process, alternating rounds in one run',
    targets: { p99RatioAtMost: 1.5, p99MsBelowOnAQuietMachine: 10 },
    ...(apiRoot ? { apiRoot } : {}),
    put,
    operations,
  };
  const out = process.env.BENCH_CART_OUT ?? path.join(__dirname, 'results/carts-latest.json');
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`written ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
