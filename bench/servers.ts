/**
 * `npm run bench`, last part: checkout figures on the CLI dev server and on the Temporal server
 * built from Go (TEMPORAL_SERVER=cluster, PostgreSQL persistence), in the same run
 * (scripts/bench.sh restarts Temporal between the parts). One mode per call:
 *   single <label>     one in-process API + worker: p50/p99 at concurrency 1, throughput at 50
 *   processes <label>  two API processes and two worker processes (api/server.ts, workers/main.ts):
 *                      throughput at concurrency 50 through both APIs, each worker's share, and
 *                      the fault harness's audit of every checkout (bench/fault-audit.ts)
 *   table              prints the side-by-side table, writes bench/results/servers-latest.json
 * Results accumulate in BENCH_SERVERS_OUT (a JSON file of the run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { createApp } from '../api/app';
import { loadConfig } from '../config';
import { temporalClientOptions } from '../temporal/client';
import { createDatabases } from '../db/client';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { createLogger } from '../logger';
import { buildActivityDeps } from '../workers/deps';
import { createWorker } from '../workers/worker';
import { auditScenario, BAD } from './fault-audit';
import type { Call } from './fault-scenarios';
import { closeConnections, runLevel } from './harness';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const ROOT = path.resolve(__dirname, '..');
const TSX = ['--import', `file://${ROOT}/node_modules/tsx/dist/loader.mjs`];
const OUT = process.env.BENCH_SERVERS_OUT ?? path.join(os.tmpdir(), 'orderly-bench-servers.json');
const SINGLE = { latency: { concurrency: 1, requests: 30 }, throughput: { concurrency: 50, requests: 300 } };
const PROCESSES = { concurrency: 50, requests: 300 };
const run = Date.now().toString(36);

type Results = Record<string, Record<string, unknown>>;
const load = (): Results => (fs.existsSync(OUT) ? (JSON.parse(fs.readFileSync(OUT, 'utf8')) as Results) : {});
const save = (key: string, value: Record<string, unknown>) => fs.writeFileSync(OUT, JSON.stringify({ ...load(), [key]: value }, null, 2));

export function caller(base: string): Call {
  return async (method, p, body, headers = {}) => {
    const res = await fetch(base + p, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
}

export async function product(dbs: ReturnType<typeof createDatabases>, sku: string, units: number) {
  await upsertProduct(dbs.catalog, { sku, name: `Bench ${sku}`, priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, units);
}

export async function carts(call: Call, sku: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const cart = await call('POST', '/carts', {});
    await call('PUT', `/carts/${cart.body.id}/lines/${sku}`, { quantity: 1 });
    ids.push(cart.body.id as string);
  }
  return ids;
}

/** A checkout's answer: 201 placed, 202 still running when the API's wait ended, anything else counted as an error. */
export const checkout = async (call: Call, cartId: string, key: string, statuses: Map<number, number>) => {
  const res = await call('POST', '/checkouts', { cartId, email: 'bench@example.com', paymentToken: 'tok_visa' }, { 'Idempotency-Key': key });
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  return res.status === 201 ? (res.body as { checkoutId: string; orderId: string }) : undefined;
};
export const notPlaced = (statuses: Map<number, number>) => Object.fromEntries([...statuses].filter(([code]) => code !== 201));

/** One API and one worker in this process: the same shape as bench/checkout.ts, checkout only. */
async function single(label: string) {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: `bench-servers-${run}`, CHECKOUT_WAIT_MS: '30000' });
  const logger = createLogger('silent');
  const dbs = createDatabases({ ...config, databasePoolSize: 40 });
  const redis = new Redis(config.redisUrl);
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const deps = buildActivityDeps({ config, logger, dbs, redis, temporal: client });
  const worker = await createWorker({ connection: native, config, deps });
  const running = worker.run();
  const app = createApp({ config, logger, dbs, redis, temporal: client });
  const server = app.listen(0);
  await new Promise((r) => server.once('listening', r));
  const call = caller(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const sku = `SRV-${label}-${run}`;
  await product(dbs, sku, 1_000_000);

  const warm = new Map<number, number>();
  await Promise.all((await carts(call, sku, 5)).map((c, i) => checkout(call, c, `warm-${i}`, warm)));
  const statuses = new Map<number, number>();
  const measure = async ({ concurrency, requests }: { concurrency: number; requests: number }) => {
    const ids = await carts(call, sku, requests);
    return runLevel(concurrency, requests, async (i) => void (await checkout(call, ids[i] as string, `c${concurrency}-${i}`, statuses)));
  };
  const latency = await measure(SINGLE.latency);
  const throughput = await measure(SINGLE.throughput);
  save(`single:${label}`, {
    notPlaced: JSON.stringify(notPlaced(statuses)),
    p50msAt1: +latency.p50.toFixed(0),
    p99msAt1: +latency.p99.toFixed(0),
    perSecondAt50: +throughput.perSecond.toFixed(1),
    p50msAt50: +throughput.p50.toFixed(0),
    p99msAt50: +throughput.p99.toFixed(0),
  });

  server.close();
  worker.shutdown();
  await running;
  deps.mailer.close();
  await closeConnections({ native, client, redis, dbs });
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** An API process (api/server.ts) on `port`, as production runs it (also used by bench/scale-checkout.ts). */
export const spawnApi = (env: Record<string, string>, port: number): ChildProcess =>
  spawn(process.execPath, [...TSX, path.join(ROOT, 'api/server.ts')], { cwd: ROOT, env: { ...env, PORT: String(port) }, stdio: 'ignore' });

/** A worker process (workers/main.ts) on the environment's task queue. */
export const spawnWorker = (env: Record<string, string>): ChildProcess =>
  spawn(process.execPath, [...TSX, path.join(ROOT, 'workers/main.ts')], { cwd: ROOT, env, stdio: 'ignore' });

/** Waits until the API on `port` answers /health (at most a minute). */
export async function untilHealthy(port: number): Promise<void> {
  for (let t = 0; ; t++) {
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) return;
    if (t > 600) throw new Error(`the API on ${port} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM to each child still running, then waits for them to exit. */
export async function stopChildren(children: ChildProcess[]): Promise<void> {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
}

/** Two API processes and two worker processes, the load spread over both APIs. */
async function processes(label: string) {
  const taskQueue = `bench-mp-${run}`;
  const env = { ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: taskQueue, CHECKOUT_WAIT_MS: '30000' } as Record<string, string>;
  const config = loadConfig(env);
  const dbs = createDatabases(config);
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  const children: ChildProcess[] = [];
  const ports = [await freePort(), await freePort()];
  try {
    for (const port of ports) children.push(spawnApi(env, port));
    for (let i = 0; i < 2; i++) children.push(spawnWorker(env));
    const calls = ports.map((p) => caller(`http://127.0.0.1:${p}`));
    for (const p of ports) await untilHealthy(p);
    const sku = `MP-${run}`;
    const skuB = `MPB-${run}`;
    const units = PROCESSES.requests + 20;
    await product(dbs, sku, units);
    await product(dbs, skuB, 10);
    const call0 = calls[0] as Call;
    // warm-up through both APIs (both workers up, the worker version current), not measured
    const warm = await carts(call0, sku, 10);
    await Promise.all(warm.map((c, i) => checkout(calls[i % 2] as Call, c, `mp-warm-${i}`, new Map())));

    const ids = await carts(call0, sku, PROCESSES.requests);
    const placed = new Map<number, { checkoutId: string; orderId: string }>();
    const perApi = [0, 0];
    const statuses = new Map<number, number>();
    const load = await runLevel(PROCESSES.concurrency, PROCESSES.requests, async (i) => {
      const answer = await checkout(calls[i % 2] as Call, ids[i] as string, `mp-${i}`, statuses);
      if (answer) placed.set(i, answer);
      perApi[i % 2] = (perApi[i % 2] ?? 0) + 1;
    });
    const all = [...warm, ...ids];
    // every checkout's run to its end, and which worker process completed its workflow tasks
    const perWorker = new Map<string, number>();
    let pending = 0;
    for (let i = 0; i < all.length; i += 10) {
      await Promise.all(
        all.slice(i, i + 10).map(async (cartId) => {
          const handle = client.workflow.getHandle(`checkout-${cartId}`);
          const done = await Promise.race([handle.result().then(() => true, () => true), new Promise((r) => setTimeout(() => r(false), 120_000))]);
          if (!done) pending++;
          const history = await handle.fetchHistory();
          const identities = new Set((history.events ?? []).map((e) => e.workflowTaskCompletedEventAttributes?.identity).filter((x): x is string => !!x));
          for (const id of identities) perWorker.set(id, (perWorker.get(id) ?? 0) + 1);
        }),
      );
    }
    const audit = await auditScenario(dbs, client, call0, { name: `2 APIs + 2 workers (${label})`, carts: all, sku, skuB, units, unitsB: 10, pending, refundAttempts: 0, placed: new Map([...placed].map(([i, p]) => [i + warm.length, p])) });
    const bad = Object.fromEntries(BAD.map((k) => [k, audit[k]]));
    save(`processes:${label}`, {
      perSecondAt50: +load.perSecond.toFixed(1),
      p50msAt50: +load.p50.toFixed(0),
      p99msAt50: +load.p99.toFixed(0),
      notPlaced: JSON.stringify(notPlaced(statuses)),
      perApiProcess: perApi.map((n) => +((n / PROCESSES.requests) * load.perSecond).toFixed(1)),
      workflowsTouchedPerWorker: [...perWorker.values()],
      placed: audit.placed,
      auditClean: Object.values(bad).every((v) => v === 0),
      audit: bad,
    });
  } finally {
    await stopChildren(children);
    await client.connection.close();
    await dbs.close();
  }
}

function table() {
  const r = load();
  const s = (k: string) => (r[`single:${k}`] ?? {}) as Record<string, number>;
  const p = (r['processes:cluster'] ?? {}) as Record<string, unknown>;
  const rows = {
    'dev server (CLI, SQLite in memory)': s('dev'),
    'cluster (Go-built server, PostgreSQL)': s('cluster'),
  };
  const result = {
    at: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
    shape: `checkout through the real API; latency: ${SINGLE.latency.requests} at concurrency 1; throughput: ${SINGLE.throughput.requests} at concurrency 50; one in-process API + worker`,
    servers: rows,
    clusterTwoApisTwoWorkers: p,
  };
  console.log(`\n${result.machine}\n${result.shape}\n`);
  console.table(rows);
  console.log('cluster server, 2 API processes + 2 worker processes (same machine):', p);
  fs.writeFileSync(path.join(__dirname, 'results', 'servers-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (p.auditClean === false) process.exitCode = 1;
}

if (require.main === module) {
  const [mode, label = process.env.TEMPORAL_SERVER ?? 'dev'] = process.argv.slice(2);
  const job = mode === 'single' ? single(label) : mode === 'processes' ? processes(label) : mode === 'table' ? Promise.resolve(table()) : Promise.reject(new Error(`unknown mode ${mode}`));
  job.catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
