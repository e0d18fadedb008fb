/**
 * `BENCH_ONLY=storefront npm run bench`: the whole storefront as a shopper uses it. Each virtual
 * user creates a cart, adds a line and checks out (until the answer), at concurrency 1, 10 and
 * 50: flows per second, p50/p99 of the whole flow and of each of its three requests.
 *
 * Run as `npm run dev` runs the service: one API process (api/server.ts) and one worker process
 * (workers/main.ts), dev mode (rate limits off: every virtual user comes from 127.0.0.1), on two
 * Temporal servers side by side, the levels alternated between them in one run:
 *   memory     the CLI dev server in memory (TEMPORAL_ADDRESS: what `npm run bench` starts);
 *   persisted  a CLI dev server of its own with its history in a SQLite file (WAL), started by
 *              scripts/services.sh with TEMPORAL_PERSIST=1 as `npm run dev` does, on free ports
 *              under a temporary data dir, and stopped (by its PID file) at the end.
 * Writes bench/results/storefront-latest.json.
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { pct } from './harness';

const ROOT = path.resolve(__dirname, '..');
const TSX = ['--import', `file://${ROOT}/node_modules/tsx/dist/loader.mjs`];
const LEVELS = [
  { concurrency: 1, users: 20 },
  { concurrency: 10, users: 100 },
  { concurrency: 50, users: 250 },
];
const run = Date.now().toString(36);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

interface Stack {
  label: string;
  base: string;
  children: ChildProcess[];
}

/** One API process and one worker process on `temporalAddress`, each on a task queue of its own. */
async function startStack(label: string, temporalAddress: string): Promise<Stack> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ORDERLY_MODE: 'dev',
    LOG_LEVEL: 'error',
    RATE_LIMITS_ENABLED: 'false',
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: `storefront-${label}-${run}`,
    CHECKOUT_WAIT_MS: '30000',
    PORT: String(port),
  };
  delete env.WORKER_METRICS_PORT;
  delete env.METRICS_PORT;
  const children = [
    spawn(process.execPath, [...TSX, path.join(ROOT, 'workers/main.ts')], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] }),
    spawn(process.execPath, [...TSX, path.join(ROOT, 'api/server.ts')], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] }),
  ];
  const base = `http://127.0.0.1:${port}`;
  for (let t = 0; !(await fetch(`${base}/health`).then((r) => r.ok, () => false)); t++) {
    if (t > 900) throw new Error(`the ${label} API did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { label, base, children };
}

async function stopStack(stack: Stack): Promise<void> {
  for (const c of stack.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await Promise.all(stack.children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
}

type Step = 'cart' | 'line' | 'checkout';

/** One virtual user's flow; its three requests' times go to `times`. */
async function flow(base: string, sku: string, key: string, times: Record<Step, number[]>, statuses: Map<string, number>): Promise<void> {
  const call = async (step: Step, method: string, p: string, body: unknown, headers: Record<string, string> = {}) => {
    const t = performance.now();
    const res = await fetch(base + p, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const json = (await res.json().catch(() => ({}))) as { id?: string };
    times[step].push(performance.now() - t);
    const tag = `${step} ${res.status}`;
    statuses.set(tag, (statuses.get(tag) ?? 0) + 1);
    return { status: res.status, body: json };
  };
  const cart = await call('cart', 'POST', '/carts', {});
  if (cart.status !== 201 || !cart.body.id) throw new Error(`POST /carts answered ${cart.status}`);
  const line = await call('line', 'PUT', `/carts/${cart.body.id}/lines/${sku}`, { quantity: 1 });
  if (line.status !== 200) throw new Error(`PUT line answered ${line.status}`);
  await call('checkout', 'POST', '/checkouts', { cartId: cart.body.id, email: 'storefront@example.com', paymentToken: 'tok_visa' }, { 'Idempotency-Key': key });
}

async function level(stack: Stack, sku: string, concurrency: number, users: number) {
  const times: Record<Step, number[]> = { cart: [], line: [], checkout: [] };
  const statuses = new Map<string, number>();
  const flows: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < users) {
        const i = next++;
        const t = performance.now();
        await flow(stack.base, sku, `storefront-${stack.label}-${run}-${concurrency}-${i}`, times, statuses);
        flows.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const ms = (xs: number[], p: number) => +pct(xs, p).toFixed(0);
  const checkoutsPlaced = statuses.get('checkout 201') ?? 0;
  return {
    server: stack.label,
    concurrency,
    users,
    flowsPerSecond: +(users / seconds).toFixed(1),
    flowP50ms: ms(flows, 50),
    flowP99ms: ms(flows, 99),
    cartP50ms: ms(times.cart, 50),
    lineP50ms: ms(times.line, 50),
    lineP99ms: ms(times.line, 99),
    checkoutP50ms: ms(times.checkout, 50),
    checkoutP99ms: ms(times.checkout, 99),
    checkoutsPlaced,
    other: JSON.stringify(Object.fromEntries([...statuses].filter(([k]) => !['cart 201', 'line 200', 'checkout 201'].includes(k)))),
  };
}

async function main() {
  const memoryAddress = process.env.TEMPORAL_ADDRESS;
  if (!memoryAddress) throw new Error('TEMPORAL_ADDRESS (the in-memory dev server) is not set: run it through `BENCH_ONLY=storefront npm run bench`');
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent' });
  const dbs = createDatabases(config);
  const sku = `STOREFRONT-${run}`;
  await upsertProduct(dbs.catalog, { sku, name: 'Storefront bench item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 1_000_000);

  // the persisted dev server, as `npm run dev` starts it (SQLite file, WAL, the Web UI on)
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'orderly-storefront-'));
  const temporalPort = await freePort();
  const persistedEnv = {
    ...process.env,
    ORDERLY_DATA_DIR: data,
    SERVICES: 'temporal',
    TEMPORAL_SERVER: 'dev',
    TEMPORAL_PERSIST: '1',
    TEMPORAL_HEADLESS: '0',
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(await freePort()),
  };
  const services = (action: 'start' | 'stop') => execFileSync('bash', [path.join(ROOT, 'scripts/services.sh'), action], { env: persistedEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  const stacks: Stack[] = [];
  const rows: Awaited<ReturnType<typeof level>>[] = [];
  try {
    services('start');
    stacks.push(await startStack('memory', memoryAddress));
    stacks.push(await startStack('persisted', `127.0.0.1:${temporalPort}`));
    // warm-up (the worker version made current, connections and caches), not measured
    for (const stack of stacks) await level(stack, sku, 5, 10);
    for (const { concurrency, users } of LEVELS) {
      for (const stack of stacks) rows.push(await level(stack, sku, concurrency, users));
    }
  } finally {
    for (const stack of stacks) await stopStack(stack);
    try {
      services('stop');
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
      await dbs.close();
    }
  }
  const ratios = LEVELS.map(({ concurrency }) => {
    const m = rows.find((r) => r.server === 'memory' && r.concurrency === concurrency);
    const p = rows.find((r) => r.server === 'persisted' && r.concurrency === concurrency);
    return {
      concurrency,
      persistedVsMemoryThroughput: m && p ? +(p.flowsPerSecond / m.flowsPerSecond).toFixed(2) : null,
      persistedVsMemoryFlowP50: m && p ? +(p.flowP50ms / m.flowP50ms).toFixed(2) : null,
    };
  });
  const result = {
    at: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    shape:
      'per virtual user: POST /carts, PUT a line, POST /checkouts until the answer; one API process + one worker process (dev mode, rate limits off); ' +
      'memory = the CLI dev server in memory, persisted = the CLI dev server on a SQLite file (WAL) as `npm run dev` runs it; levels alternated between the two',
    levels: rows,
    ratios,
  };
  console.log(`\n${result.machine}\n${result.shape}\n`);
  console.table(rows);
  console.table(ratios);
  fs.writeFileSync(path.join(__dirname, 'results', 'storefront-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
