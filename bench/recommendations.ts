/**
 * `npm run bench` (recommendations part): on a generated purchase log with planted co-purchase
 * structure and noise, the quality of "also bought" (precision@5 / recall@5 on held-out
 * orders, against a popularity baseline) and the read path's latency at concurrency 10
 * against the API in a process of its own. The training log is written to a database of the
 * bench's own as paid orders; the real recompute workflow (Temporal) builds the scores; every
 * recommendation is asked of the real `GET /products/:sku/recommendations`.
 * Prints a table and writes bench/results/recommendations-latest.json.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { createActivities } from '../activities';
import { loadConfig } from '../config';
import { temporalClientOptions } from '../temporal/client';
import { payloadDataConverter } from '../temporal/codec';
import { createDatabases } from '../db/client';
import { runMigrations } from '../db/migrate';
import { orderLines, orders } from '../db/schema/order';
import { products, stock } from '../db/schema';
import { createLogger } from '../logger';
import { buildActivityDeps } from '../workers/deps';
import type { RecommendationRecomputeSummary } from '../workflows/messages';
import { closeConnections, pct } from './harness';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const ITEMS = Number(process.env.RECO_BENCH_ITEMS ?? 400);
const CATEGORIES = 10;
const TRAIN_ORDERS = Number(process.env.RECO_BENCH_ORDERS ?? 10_000);
const TEST_ORDERS = 1_000;
const DAYS = 90;
const K = 5;
const CONCURRENCY = 10;
/** Requests asked of a cold API process (`coldStart`). */
const COLD_REQUESTS = 1_000;

/** A seeded generator: the same log on every run. */
function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The purchase log: items with Zipf popularity, partitioned into bundles of 3–4 that are
 * bought together (the planted structure). Half the orders take 2+ items of one bundle (and
 * a popular noise item half the time); the other half are 1–3 items drawn by popularity only.
 */
function generateLog(seed: number) {
  const rand = mulberry32(seed);
  const pickWeighted = (cumulative: number[]) => {
    const r = rand() * (cumulative[cumulative.length - 1] as number);
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const shuffled = <T>(xs: T[]) => {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [a[i], a[j]] = [a[j] as T, a[i] as T];
    }
    return a;
  };
  const items = Array.from({ length: ITEMS }, (_, i) => i);
  const rank = shuffled(items);
  const itemWeights: number[] = [];
  rank.forEach((item, r) => (itemWeights[item] = 1 / (r + 1)));
  const cumulative = (weights: number[]) => {
    let sum = 0;
    return weights.map((w) => (sum += w));
  };
  const itemCumulative = cumulative(items.map((i) => itemWeights[i] as number));
  const bundles: number[][] = [];
  const order = shuffled(items);
  for (let i = 0; i < order.length; ) {
    const size = rand() < 0.5 ? 3 : 4;
    bundles.push(order.slice(i, i + size));
    i += size;
  }
  const bundleCumulative = cumulative(bundles.map((b) => b.reduce((s, item) => s + (itemWeights[item] as number), 0)));
  const nextOrder = (): number[] => {
    const basket = new Set<number>();
    if (rand() < 0.5) {
      const bundle = bundles[pickWeighted(bundleCumulative)] as number[];
      const take = 2 + Math.floor(rand() * (bundle.length - 1));
      for (const item of shuffled(bundle).slice(0, take)) basket.add(item);
      if (rand() < 0.5) basket.add(pickWeighted(itemCumulative));
    } else {
      const n = 1 + Math.floor(rand() * 3);
      while (basket.size < n) basket.add(pickWeighted(itemCumulative));
    }
    return [...basket];
  };
  const now = Date.now();
  const train = Array.from({ length: TRAIN_ORDERS }, () => ({ items: nextOrder(), at: new Date(now - rand() * DAYS * 86_400_000) }));
  const test = Array.from({ length: TEST_ORDERS }, () => nextOrder());
  return { train, test, bundles };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function main() {
  const run = Date.now().toString(36);
  // A database of the bench's own: the recompute reads every paid order, so only this log.
  const base = new URL(process.env.DATABASE_URL as string);
  const dbName = `orderly_bench_reco_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: base.toString(), max: 1 });
  await admin.query(`create database ${dbName}`);
  const url = new URL(base.toString());
  url.pathname = `/${dbName}`;
  const env = { ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', DATABASE_URL: url.toString(), TEMPORAL_TASK_QUEUE: `bench-reco-${run}`, RECOMMENDATIONS_KEY_PREFIX: `bench-reco-${run}:` } as NodeJS.ProcessEnv;
  const config = loadConfig(env);
  await runMigrations(config);
  const logger = createLogger('silent');
  const dbs = createDatabases({ ...config, databasePoolSize: 20 });
  const redis = new Redis(config.redisUrl);
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  const native = await NativeConnection.connect({ address: config.temporal.address });

  // The log, as products (all in stock) and paid orders.
  const { train, test, bundles } = generateLog(19);
  const sku = (item: number) => `RB-${item}`;
  const categoryOf = (item: number) => `cat-${item % CATEGORIES}`;
  for (let i = 0; i < ITEMS; i += 500) {
    const batch = Array.from({ length: Math.min(500, ITEMS - i) }, (_, j) => i + j);
    await dbs.catalog.insert(products).values(batch.map((item) => ({ sku: sku(item), name: `Bench item ${item}`, category: categoryOf(item), priceAmount: 1000 + item, currency: 'USD' })));
    await dbs.inventory.insert(stock).values(batch.map((item) => ({ sku: sku(item), onHand: 1_000_000 })));
  }
  const loadStarted = performance.now();
  for (let i = 0; i < train.length; i += 1_000) {
    const slice = train.slice(i, i + 1_000).map((o, j) => ({ ...o, id: `ord_bench_${(i + j).toString().padStart(6, '0')}_${randomBytes(4).toString('hex')}` }));
    await dbs.order.insert(orders).values(slice.map((o) => ({ id: o.id, checkoutId: `chk_${o.id}`, cartId: `cart_${o.id}`, email: 'bench@example.com', status: 'paid', currency: 'USD', totalAmount: o.items.length * 1000, createdAt: o.at })));
    await dbs.order.insert(orderLines).values(slice.flatMap((o) => o.items.map((item) => ({ orderId: o.id, sku: sku(item), name: sku(item), quantity: 1, unitPriceAmount: 1000, lineTotalAmount: 1000 }))));
  }
  const loadSeconds = (performance.now() - loadStarted) / 1000;

  // The real recompute: the workflow on a worker of this process, 500 orders per page.
  const deps = buildActivityDeps({ config, logger, dbs, redis, temporal: client });
  const worker = await Worker.create({ connection: native, dataConverter: payloadDataConverter(config.privacy.payloadKeys), taskQueue: config.temporal.taskQueue, workflowsPath: require.resolve('../workflows'), activities: createActivities(deps) });
  const running = worker.run();
  const recomputeStarted = performance.now();
  const summary = (await client.workflow.execute('recommendationRecomputeWorkflow', {
    taskQueue: config.temporal.taskQueue,
    workflowId: `bench-reco-${run}`,
    args: [{ retireAfterSeconds: 0 }],
  })) as RecommendationRecomputeSummary;
  const recomputeSeconds = (performance.now() - recomputeStarted) / 1000;

  // The incremental path: the activity the checkout runs after markOrderPaid, on 200 new orders.
  const activities = createActivities(deps);
  const incremental: number[] = [];
  for (let i = 0; i < 200; i++) {
    const id = `ord_bench_incr_${i}_${randomBytes(4).toString('hex')}`;
    const items = test[i] as number[];
    await dbs.order.insert(orders).values({ id, checkoutId: `chk_${id}`, cartId: `cart_${id}`, email: 'bench@example.com', status: 'paid', currency: 'USD', totalAmount: 1000 });
    await dbs.order.insert(orderLines).values(items.map((item) => ({ orderId: id, sku: sku(item), name: sku(item), quantity: 1, unitPriceAmount: 1000, lineTotalAmount: 1000 })));
    const t = performance.now();
    await activities.recordPurchaseForRecommendations({ orderId: id });
    incremental.push(performance.now() - t);
  }
  // (those 200 orders are not among the held-out orders evaluated below)

  // The API in a process of its own (the load generator must not share its event loop).
  // RECO_BENCH_CPU_PROF=<dir>: the API process writes a CPU profile there when it stops (node --cpu-prof)
  const profile = process.env.RECO_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RECO_BENCH_CPU_PROF}`] : [];
  /** An API process of the checkout at `root` (this one, or RECO_BENCH_COMPARE's), on a free port, answering /health. */
  const startApi = async (root: string, flags: string[] = []) => {
    const port = await freePort();
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', path.join(root, 'api/server.ts')], { cwd: root, env: { ...env, PORT: String(port) }, stdio: 'ignore' });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 150; i++) {
      if (await fetch(`${base}/health`).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return { base, child };
  };
  const { base: apiBase, child: api } = await startApi(path.join(__dirname, '..'), profile);

  // Queries: every item of every held-out order with 2+ items; relevant = the order's other items.
  const queries = test.slice(200).filter((o) => o.length >= 2).flatMap((o) => o.map((q) => ({ q, relevant: new Set(o.filter((x) => x !== q)) })));
  const popularity = new Map<number, number>();
  for (const o of train) for (const item of o.items) popularity.set(item, (popularity.get(item) ?? 0) + 1);
  const byPopularity = [...popularity.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([item]) => item);

  const ask = async (q: number, base = apiBase) => {
    const t = performance.now();
    const res = await fetch(`${base}/products/${sku(q)}/recommendations?limit=${K}`);
    const body = (await res.json()) as { items: { sku: string }[]; source: string };
    if (res.status !== 200) throw new Error(`recommendations answered ${res.status}`);
    const server = Number(/dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1] ?? NaN);
    const cache = /cache;desc=(\w+)/.exec(res.headers.get('server-timing') ?? '')?.[1] ?? 'none';
    return { client: performance.now() - t, server, cache, skus: body.items.map((i) => Number(i.sku.slice(3))), source: body.source };
  };
  // warm-up, untimed
  for (let i = 0; i < 300; i += CONCURRENCY) await Promise.all(queries.slice(i, i + CONCURRENCY).map((x) => ask(x.q)));

  /** The queries at concurrency 10 against one API. */
  const atConcurrency = async (list: typeof queries, base = apiBase) => {
    const out: Awaited<ReturnType<typeof ask>>[] = new Array(list.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < list.length) {
          const i = next++;
          out[i] = await ask((list[i] as { q: number }).q, base);
        }
      }),
    );
    return out;
  };
  const started = performance.now();
  const answers = await atConcurrency(queries);
  const seconds = (performance.now() - started) / 1000;
  // The same requests one at a time: the read path's own cost, without queueing on the cores.
  const sequential: Awaited<ReturnType<typeof ask>>[] = [];
  for (const { q } of queries.slice(0, 500)) sequential.push(await ask(q));

  /**
   * A cold process: a fresh API asked at concurrency 10 from its very first request (no untimed
   * warm-up): the first asks land before its first poll and warm-up are done. Reported apart
   * (`coldStart`), beside the main figures, which start after 300 untimed requests.
   */
  const cold = await startApi(path.join(__dirname, '..'));
  const coldAnswers = await atConcurrency(queries.slice(0, COLD_REQUESTS), cold.base);
  cold.child.kill('SIGTERM');
  const coldStart = {
    requests: coldAnswers.length,
    serverP50Ms: +pct(coldAnswers.map((a) => a.server), 50).toFixed(2),
    serverP99Ms: +pct(coldAnswers.map((a) => a.server), 99).toFixed(2),
    hitShare: +(coldAnswers.filter((a) => a.cache === 'hit').length / coldAnswers.length).toFixed(3),
    /** How many of the first 100 requests were misses (the first poll and warm-up under way). */
    missesInFirst100: coldAnswers.slice(0, 100).filter((a) => a.cache !== 'hit').length,
    missesAfterFirst100: coldAnswers.slice(100).filter((a) => a.cache !== 'hit').length,
  };

  /**
   * RECO_BENCH_COMPARE=<root of another checkout> (e.g. a `git worktree` of the commit before a
   * change): a fresh API of this checkout and one of that checkout, on the same data, asked the
   * same queries at concurrency 10 in alternating rounds (10 rounds, which goes first
   * alternating), so both see the same machine load: paired p50/p99 and their ratio.
   */
  let comparison: Record<string, unknown> | undefined;
  if (process.env.RECO_BENCH_COMPARE) {
    const sides = [
      { name: 'this', ...(await startApi(path.join(__dirname, '..'))), got: [] as Awaited<ReturnType<typeof ask>>[] },
      { name: 'other', ...(await startApi(path.resolve(process.env.RECO_BENCH_COMPARE))), got: [] as Awaited<ReturnType<typeof ask>>[] },
    ];
    for (const side of sides) await atConcurrency(queries.slice(0, 300), side.base);
    const rounds = 10;
    const per = Math.ceil(queries.length / rounds);
    for (let r = 0; r < rounds; r++) {
      const slice = queries.slice(r * per, (r + 1) * per);
      for (const side of r % 2 === 0 ? sides : [...sides].reverse()) side.got.push(...(await atConcurrency(slice, side.base)));
    }
    const figures = (got: Awaited<ReturnType<typeof ask>>[]) => ({
      serverP50Ms: +pct(got.map((a) => a.server), 50).toFixed(2),
      serverP99Ms: +pct(got.map((a) => a.server), 99).toFixed(2),
      hitShare: +(got.filter((a) => a.cache === 'hit').length / got.length).toFixed(3),
      missServerP99Ms: +pct(got.filter((a) => a.cache !== 'hit').map((a) => a.server), 99).toFixed(2),
    });
    const [mine, theirs] = sides.map((s) => figures(s.got)) as [ReturnType<typeof figures>, ReturnType<typeof figures>];
    comparison = { other: process.env.RECO_BENCH_COMPARE, this: mine, otherFigures: theirs, p99Ratio: +(mine.serverP99Ms / theirs.serverP99Ms).toFixed(3), missP99Ratio: +(mine.missServerP99Ms / theirs.missServerP99Ms).toFixed(3), loadAverage: os.loadavg().map((l) => +l.toFixed(1)) };
    for (const side of sides) side.child.kill('SIGTERM');
  }

  const score = (recommend: (q: number, i: number) => number[]) => {
    let precision = 0;
    let recall = 0;
    queries.forEach(({ q, relevant }, i) => {
      const hits = recommend(q, i).slice(0, K).filter((x) => relevant.has(x)).length;
      precision += hits / K;
      recall += hits / relevant.size;
    });
    return { precisionAt5: +(precision / queries.length).toFixed(4), recallAt5: +(recall / queries.length).toFixed(4) };
  };
  const answerOf = queries.map((_, i) => (answers[i] as { skus: number[] }).skus);
  const alsoBought = score((_q, i) => answerOf[i] ?? []);
  const baseline = score((q) => byPopularity.filter((x) => x !== q));
  const serverTimes = answers.map((a) => a.server);
  const clientTimes = answers.map((a) => a.client);

  const result = {
    at: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model ?? ''}; PostgreSQL, Redis and the Temporal dev server on the same machine`,
    log: {
      items: ITEMS,
      categories: CATEGORIES,
      bundles: bundles.length,
      trainOrders: TRAIN_ORDERS,
      heldOutOrders: TEST_ORDERS - 200,
      queries: queries.length,
      days: DAYS,
      halfLifeDays: config.recommendations.halfLifeDays,
      structure: 'Zipf item popularity; items partitioned into bundles of 3–4; 50% of orders take 2+ items of one bundle (plus a popular noise item half the time), 50% are 1–3 items by popularity only',
    },
    quality: { alsoBought, popularityBaseline: baseline, liftPrecision: +(alsoBought.precisionAt5 / baseline.precisionAt5).toFixed(2), liftRecall: +(alsoBought.recallAt5 / baseline.recallAt5).toFixed(2) },
    latency: {
      concurrency: CONCURRENCY,
      requests: queries.length,
      perSecond: +(queries.length / seconds).toFixed(0),
      serverP50Ms: +pct(serverTimes, 50).toFixed(2),
      serverP99Ms: +pct(serverTimes, 99).toFixed(2),
      clientP50Ms: +pct(clientTimes, 50).toFixed(2),
      clientP99Ms: +pct(clientTimes, 99).toFixed(2),
      target: 'server p99 < 5 ms',
      // the API's answer cache (usecases/recommendation-answers.ts): a miss is the first ask of a sku (and limit) or one after a change
      cacheHitShare: +(answers.filter((a) => a.cache === 'hit').length / answers.length).toFixed(3),
      hitServerP99Ms: +pct(answers.filter((a) => a.cache === 'hit').map((a) => a.server), 99).toFixed(2),
      missServerP50Ms: +pct(answers.filter((a) => a.cache !== 'hit').map((a) => a.server), 50).toFixed(2),
      missServerP99Ms: +pct(answers.filter((a) => a.cache !== 'hit').map((a) => a.server), 99).toFixed(2),
      sequentialServerP50Ms: +pct(sequential.map((a) => a.server), 50).toFixed(2),
      sequentialServerP99Ms: +pct(sequential.map((a) => a.server), 99).toFixed(2),
      sequentialClientP50Ms: +pct(sequential.map((a) => a.client), 50).toFixed(2),
      loadAverage: os.loadavg().map((l) => +l.toFixed(1)),
    },
    coldStart,
    recompute: { orders: summary.orders, pages: summary.pages, runs: summary.runs, seconds: +recomputeSeconds.toFixed(1), ordersPerSecond: +(summary.orders / recomputeSeconds).toFixed(0), loadSeconds: +loadSeconds.toFixed(1) },
    incremental: { orders: incremental.length, p50Ms: +pct(incremental, 50).toFixed(2), p99Ms: +pct(incremental, 99).toFixed(2) },
    ...(comparison ? { comparison } : {}),
  };
  console.log(`\n${result.machine}`);
  console.table([
    { model: 'also bought (API)', ...result.quality.alsoBought },
    { model: 'popularity baseline', ...result.quality.popularityBaseline },
  ]);
  console.table([{ measure: 'GET /products/:sku/recommendations?limit=5 (ms)', ...result.latency }]);
  console.table([{ measure: 'cold API process, from its first request (ms)', ...coldStart }]);
  console.table([{ measure: 'recompute workflow', ...result.recompute }, { measure: 'incremental activity (ms)', ...result.incremental }]);
  if (comparison) console.log('paired with RECO_BENCH_COMPARE:', JSON.stringify(comparison, null, 2));
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'recommendations-latest.json'), `${JSON.stringify(result, null, 2)}\n`);

  api.kill('SIGTERM');
  worker.shutdown();
  await running;
  await closeConnections({ native, client, redis, dbs });
  await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
  await admin.end();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
