/**
 * CPU per checkout, robust on a loaded machine (wall-clock throughput is not): the API and the
 * worker each in a process of its own (started by this one, which only drives the load), and the
 * Temporal server's process (/proc/<pid>/stat utime+stime; give it a server of its own, or the
 * other users' work counts), and what each
 * checkout asks of Temporal (history events, workflow tasks, activities, local activities)
 * from a sample of the checkouts' histories. Not part of `npm run bench`: a tool for finding
 * where the cost of a checkout went and for comparing builds (it runs in an older tree too:
 * copy it into a `git worktree` of the commit and run it there against the same services).
 * `BENCH_ONLY=checkout-cpu npm run bench` runs it on the bench's own dev server; it writes
 * bench/results/checkout-cpu-latest.json.
 *   CPU_TEMPORAL_PID   the Temporal server's pid (default: none, server CPU not measured)
 *   CPU_CONCURRENCY (50), CPU_REQUESTS (300), CPU_SAMPLE (20 histories), CPU_TUNING (JSON worker options)
 *   source /tmp/orderly-shared/data/services.env; ORDERLY_DATA_DIR=$(mktemp -d) \
 *     TEMPORAL_ADDRESS=127.0.0.1:47333 CPU_TEMPORAL_PID=$(pgrep -f 'port 47333') \
 *     node --import file://$PWD/node_modules/tsx/dist/loader.mjs bench/checkout-cpu.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client, Connection, type ClientOptions } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { createApp } from '../api/app';
import { createActivities } from '../activities';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { createLogger } from '../logger';
import { buildActivityDeps } from '../workers/deps';
import { WORKER_TUNING } from '../workers/worker';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const CONCURRENCY = Number(process.env.CPU_CONCURRENCY ?? 50);
const REQUESTS = Number(process.env.CPU_REQUESTS ?? 300);
const SAMPLE = Number(process.env.CPU_SAMPLE ?? 20);
const TEMPORAL_PID = process.env.CPU_TEMPORAL_PID;
const TUNING = JSON.parse(process.env.CPU_TUNING ?? '{}') as Partial<WorkerOptions>;
const run = Date.now().toString(36);
const CLK_TCK = 100;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

/** utime + stime of a process, ms. */
function procCpuMs(pid: string): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Modules a newer build has and an older one may not (this file runs in both). */
async function optional<T>(load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch {
    return undefined;
  }
}

const ROLE = process.env.CPU_ROLE;

/** What every role needs: config and connections (older builds lack some modules). */
async function basics(taskQueue: string) {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: taskQueue, CHECKOUT_WAIT_MS: '30000' });
  const logger = createLogger((process.env.CPU_LOG ?? 'silent') as 'silent');
  const dbs = createDatabases({ ...config, databasePoolSize: 40 });
  const redisModule = await optional(() => import('../db/redis'));
  const redis = redisModule ? redisModule.createRedis(config) : new Redis(config.redisUrl);
  const codec = await optional(() => import('../temporal/codec'));
  const clientModule = await optional(() => import('../temporal/client'));
  const connection = await Connection.connect({ address: config.temporal.address });
  const clientOptions: ClientOptions = clientModule && 'temporalClientOptions' in clientModule ? clientModule.temporalClientOptions(config, connection) : { connection };
  const client = new Client(clientOptions);
  const privacy = (config as { privacy?: { payloadKeys: unknown } }).privacy;
  const dataConverter = codec && privacy ? { dataConverter: codec.payloadDataConverter(privacy.payloadKeys as never) } : {};
  return { config, logger, dbs, redis, client, dataConverter };
}

/** A child process: the API alone (prints its port) or the worker alone. */
async function child(role: string, taskQueue: string) {
  // a clean exit on the driver's SIGTERM (so --cpu-prof writes the child's profile)
  process.once('SIGTERM', () => process.exit(0));
  const { config, logger, dbs, redis, client, dataConverter } = await basics(taskQueue);
  if (role === 'api') {
    const server = createApp({ config, logger, dbs, redis, temporal: client } as Parameters<typeof createApp>[0]).listen(0);
    await new Promise((r) => server.once('listening', r));
    console.log(`ready ${(server.address() as AddressInfo).port}`);
    return;
  }
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const deps = buildActivityDeps({ config, logger, dbs, redis } as Parameters<typeof buildActivityDeps>[0]);
  const worker = await Worker.create({
    ...dataConverter,
    connection: native,
    taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities(deps),
    ...WORKER_TUNING,
    ...TUNING,
  });
  void worker.run();
  console.log('ready 0');
}

/** Starts a role in its own process; resolves with its pid and the port it printed. */
function spawnRole(role: string, taskQueue: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [...process.execArgv, __filename], { env: { ...process.env, CPU_ROLE: role, CPU_TASK_QUEUE: taskQueue }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.once('exit', (code) => reject(new Error(`${role} exited ${code}`)));
  });
}

async function main() {
  const taskQueue = `cpu-${run}`;
  const { config, dbs, client } = await basics(taskQueue);
  const worker = await spawnRole('worker', taskQueue);
  const api = await spawnRole('api', taskQueue);
  const base = `http://127.0.0.1:${api.port}`;
  const post = async (p: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + p, { method: p.includes('/lines/') ? 'PUT' : 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { id?: string; orderId?: string } };
  };
  const sku = `CPU-${run}`;
  await upsertProduct(dbs.catalog, { sku, name: 'CPU item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 10_000_000);

  const carts = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const cart = await post('/carts', {});
      await post(`/carts/${cart.body.id}/lines/${sku}`, { quantity: 1 });
      ids.push(cart.body.id as string);
    }
    return ids;
  };
  const checkoutsRunning = async () =>
    (await client.workflowService.countWorkflowExecutions({
      namespace: config.temporal.namespace,
      query: `TaskQueue = '${taskQueue}' AND WorkflowType = 'checkoutWorkflow' AND ExecutionStatus = 'Running'`,
    })).count;
  const cpuOf = (p: ChildProcess) => procCpuMs(String(p.pid));
  const level = async (label: string, n: number) => {
    const ids = await carts(n);
    // the carts' own work (recovery workflows, backups) settles before the clock starts
    await new Promise((r) => setTimeout(r, 2000));
    const api0 = cpuOf(api.proc);
    const wrk0 = cpuOf(worker.proc);
    const srv0 = TEMPORAL_PID ? procCpuMs(TEMPORAL_PID) : 0;
    const t0 = performance.now();
    const latencies: number[] = [];
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          const i = next++;
          const t = performance.now();
          const res = await post('/checkouts', { cartId: ids[i], email: 'cpu@example.com', paymentToken: 'tok_visa' }, { 'Idempotency-Key': `cpu-${run}-${label}-${i}` });
          if (res.status !== 201 && failed++ === 0) console.error('first failure', res.status, JSON.stringify(res.body));
          latencies.push(performance.now() - t);
        }
      }),
    );
    const answeredS = (performance.now() - t0) / 1000;
    // the steps after the answer finish before the CPU is read
    for (let i = 0; i < 600 && Number(await checkoutsRunning()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    const doneS = (performance.now() - t0) / 1000;
    const per = (ms: number) => +(ms / n).toFixed(1);
    const apiMs = cpuOf(api.proc) - api0;
    const wrkMs = cpuOf(worker.proc) - wrk0;
    const srvMs = TEMPORAL_PID ? procCpuMs(TEMPORAL_PID) - srv0 : NaN;
    return {
      label,
      checkouts: n,
      failed,
      answeredPerSecond: +(n / answeredS).toFixed(1),
      completedPerSecond: +(n / doneS).toFixed(1),
      p50ms: Math.round(pct(latencies, 50)),
      p99ms: Math.round(pct(latencies, 99)),
      cpuMsPerCheckout: { api: per(apiMs), worker: per(wrkMs), temporal: per(srvMs), total: per(apiMs + wrkMs + srvMs) },
      loadavg: os.loadavg().map((x) => +x.toFixed(2)),
    };
  };

  await level('warmup', 30);
  const measured = await level('measured', REQUESTS);

  // what each checkout asks of Temporal, from a sample of the measured histories
  const counts: Record<string, number[]> = {};
  let sampled = 0;
  for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND WorkflowType = 'checkoutWorkflow'` })) {
    if (sampled >= SAMPLE) break;
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const events = history.events ?? [];
    const c: Record<string, number> = { events: events.length, workflowTasks: 0, activities: 0, localActivities: 0, timers: 0 };
    for (const e of events) {
      if (e.workflowTaskCompletedEventAttributes) c.workflowTasks = (c.workflowTasks ?? 0) + 1;
      if (e.activityTaskScheduledEventAttributes) c.activities = (c.activities ?? 0) + 1;
      const marker = e.markerRecordedEventAttributes?.markerName;
      if (marker) {
        const k = marker === 'core_local_activity' ? 'localActivities' : marker === 'core_patch' ? 'patchMarkers' : `marker:${marker}`;
        c[k] = (c[k] ?? 0) + 1;
      }
      if (e.workflowExecutionSignaledEventAttributes) c.signals = (c.signals ?? 0) + 1;
      if (e.upsertWorkflowSearchAttributesEventAttributes) c.searchAttributeUpserts = (c.searchAttributeUpserts ?? 0) + 1;
      if (e.timerStartedEventAttributes) c.timers = (c.timers ?? 0) + 1;
    }
    for (const [k, v] of Object.entries(c)) (counts[k] ??= []).push(v);
    sampled++;
  }
  const perCheckout = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, +(v.reduce((a, b) => a + b, 0) / v.length).toFixed(1)]));
  const result = { at: new Date().toISOString(), cwd: process.cwd(), concurrency: CONCURRENCY, tuning: TUNING, ...measured, perCheckout, sampled };
  console.log(JSON.stringify(result));
  fs.writeFileSync(path.resolve(__dirname, 'results/checkout-cpu-latest.json'), `${JSON.stringify(result, null, 2)}\n`);

  for (const p of [api.proc, worker.proc]) {
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  }
  process.exit(0);
}

if (ROLE) {
  child(ROLE, process.env.CPU_TASK_QUEUE as string).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
