/**
 * Cost curves, search part (bench/scale.ts): at each catalog size (1k / 10k / 100k products by
 * default) the storefront search's p50/p99 through `GET /products` (an API in its own process:
 * Elasticsearch, then live availability from PostgreSQL), the sync lag (`PUT /admin/products`
 * → the new name found by `GET /products?q=`), and the time `npm run reindex` (scripts/reindex.ts)
 * takes to rebuild the index from the stores.
 *
 * Products are loaded with one INSERT … SELECT generate_series per step (not through the API):
 * their updated_at lies an hour back and they write no search-outbox rows, as a catalog that was
 * imported earlier, so the reindex at each size is what puts them in the index (and is timed),
 * and the running sync sees only the changes the bench makes.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { searchRequests, type SearchQuery } from '../db/search-engine/queries';
import { SearchIndex } from '../db/search-engine/search-index';
import { createLogger } from '../logger';
import { reindex } from '../scripts/reindex';
import { temporalClientOptions } from '../temporal/client';
import { kickSearchSync } from '../temporal/search-sync';
import { searchSyncWorkflowId } from '../temporal/workflow-ids';
import { buildActivityDeps } from '../workers/deps';
import { createWorker } from '../workers/worker';
import { pct, runLevel } from './harness';
import { freePort, spawnApi, stopChildren, untilHealthy } from './servers';
import type { ScaleMode } from './scale-mode';

const ADJECTIVES = ['amber', 'bold', 'brisk', 'calm', 'crisp', 'dusky', 'eager', 'fancy', 'gentle', 'glossy', 'hardy', 'jolly', 'keen', 'lucky', 'mellow', 'misty', 'noble', 'plush', 'quiet', 'rapid', 'rustic', 'sandy', 'silky', 'snug', 'sturdy', 'sunny', 'tidy', 'urban', 'vivid', 'wild'];
const NOUNS = ['anorak', 'backpack', 'blanket', 'boots', 'bottle', 'candle', 'chair', 'clock', 'cushion', 'desk', 'gloves', 'hammock', 'jacket', 'kettle', 'lamp', 'mug', 'notebook', 'pillow', 'planter', 'poster', 'rug', 'scarf', 'sneakers', 'sofa', 'teapot', 'tent', 'towel', 'umbrella', 'vase', 'wallet'];
const MATERIALS = ['bamboo', 'canvas', 'ceramic', 'cotton', 'denim', 'felt', 'glass', 'leather', 'linen', 'maple', 'merino', 'nylon', 'oak', 'rattan', 'steel', 'suede', 'walnut', 'wool'];
const COLORS = ['black', 'blue', 'brown', 'green', 'grey', 'navy', 'olive', 'orange', 'pink', 'red', 'white', 'yellow'];
const CATEGORIES = 40;

const lit = (xs: string[]) => sql.raw(`array[${xs.map((x) => `'${x}'`).join(',')}]`);

/** Products and stock rows `from` ≤ i < `to`, in one statement each (sku SCALE-<9 digits>). */
export async function loadProducts(dbs: ReturnType<typeof createDatabases>, from: number, to: number): Promise<void> {
  const i = sql.raw('g');
  const pick = (xs: string[], salt: number) => sql`(${lit(xs)})[1 + ((${i} * ${salt}) % ${xs.length})]`;
  await dbs.catalog.execute(sql`
    insert into catalog.products (sku, name, description, category, attributes, price_amount, currency, created_at, updated_at)
    select 'SCALE-' || lpad(${i}::text, 9, '0'),
           initcap(${pick(ADJECTIVES, 7)} || ' ' || ${pick(MATERIALS, 13)} || ' ' || ${pick(NOUNS, 1)}),
           'A ' || ${pick(ADJECTIVES, 11)} || ' ' || ${pick(NOUNS, 17)} || ' in ' || ${pick(COLORS, 5)} || ' ' || ${pick(MATERIALS, 3)} || ', model ' || ${i},
           'cat-' || (${i} % ${CATEGORIES}),
           jsonb_build_object('color', ${pick(COLORS, 19)}, 'size', (array['XS','S','M','L','XL'])[1 + (${i} % 5)]),
           100 + ((${i} * 7919) % 20000), 'USD',
           now() - interval '2 hours' + (${i} % 3600) * interval '1 second', now() - interval '1 hour'
    from generate_series(${from}::int, ${to - 1}::int) as g
    on conflict (sku) do nothing`);
  await dbs.inventory.execute(sql`
    insert into inventory.stock (sku, on_hand, updated_at)
    select 'SCALE-' || lpad(${i}::text, 9, '0'), ${i} % 7, now() - interval '1 hour'
    from generate_series(${from}::int, ${to - 1}::int) as g
    on conflict (sku) do nothing`);
}

/**
 * CPU time (ms) a process has used, from /proc (Linux; NaN elsewhere). On a shared machine the
 * CPU a search costs is steadier than its wall time, which includes waiting for a core.
 */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
  } catch {
    return NaN;
  }
}

/** The Elasticsearch node's pid when the stack's services.sh started it (its pid file in the data dir). */
function elasticsearchPid(): number | undefined {
  const file = path.join(process.env.ORDERLY_DATA_DIR ?? '', 'elasticsearch.pid');
  return fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8').trim()) : undefined;
}

const skuOf = (i: number) => `SCALE-${String(i).padStart(9, '0')}`;

/** The query shapes a storefront sends, in turn: full text, full text in a category, a category by price, the first page of everything. */
function queryOf(n: number): { shape: string; qs: string; query: SearchQuery } {
  const w = (xs: string[]) => xs[(n * 31 + 7) % xs.length] as string;
  const category = `cat-${n % CATEGORIES}`;
  switch (n % 4) {
    case 0:
      return { shape: 'text', qs: `q=${w(NOUNS)}`, query: { q: w(NOUNS), sort: 'relevance', limit: 20 } };
    case 1:
      return { shape: 'text+category', qs: `q=${w(ADJECTIVES)}%20${w(MATERIALS)}&category=${category}`, query: { q: `${w(ADJECTIVES)} ${w(MATERIALS)}`, category, sort: 'relevance', limit: 20 } };
    case 2:
      return { shape: 'category by price', qs: `category=${category}&sort=price_asc`, query: { category, sort: 'price_asc', limit: 20 } };
    default:
      return { shape: 'browse', qs: 'sort=newest', query: { sort: 'newest', limit: 20 } };
  }
}

export interface SearchLevel {
  products: number;
  loadSeconds: number;
  reindexSeconds: number;
  searches: number;
  concurrency: number;
  searchPerSecond: number;
  searchP50ms: number;
  searchP99ms: number;
  /** Searches the API answered from PostgreSQL (Elasticsearch too slow or the breaker open): they count in the latencies. */
  searchFallbacks: number;
  /** The same searches sent straight to Elasticsearch: round trip, and the node's own `took`. */
  engineP50ms: number;
  engineP99ms: number;
  engineTookP50ms: number;
  engineTookP99ms: number;
  /**
   * Reference, interleaved with the above in the same window: the search as one request (hits,
   * exact total and the facet aggregations together, no request cache), as the API sent it
   * before the facets got a request of their own.
   */
  engineSingleP50ms: number;
  engineSingleP99ms: number;
  /** Facet requests answered from the shard request cache during the API's searches (hits / lookups). */
  facetCacheHitRatio: number;
  /** The API's own account of each search (its Server-Timing header): p50 / p99 per step, ms. */
  serverTiming: Record<string, { p50ms: number; p99ms: number }>;
  /** CPU time per search of the Elasticsearch node and of the API process (NaN where /proc is not readable). */
  esCpuMsPerSearch: number;
  apiCpuMsPerSearch: number;
  byShape: Record<string, { p50ms: number; p99ms: number }>;
  syncUpdates: number;
  syncLagP50ms: number;
  syncLagP99ms: number;
  syncLagMaxMs: number;
}

export async function measureSearch(mode: ScaleMode, bundle: { code: string }): Promise<{ levels: SearchLevel[]; shape: string; targets: Record<string, string>; loadAverage: Record<string, number[]> }> {
  const loadAtStart = os.loadavg().map((x) => +x.toFixed(2));
  const run = Date.now().toString(36);
  const alias = `scale-${run}`;
  const taskQueue = `scale-search-${run}`;
  const env = { ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: taskQueue, SEARCH_INDEX: alias } as Record<string, string>;
  const config = loadConfig(env);
  // the bench's own index administration (create, bulk loads, alias swaps) may wait; the API keeps its default timeout
  const adminConfig = { ...config, search: { ...config.search, timeoutMs: 60_000 } };
  const logger = createLogger('silent');
  const dbs = createDatabases({ ...config, databasePoolSize: 10 });
  const redis = createRedis(config);
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const search = new SearchIndex(adminConfig);
  const deps = { ...buildActivityDeps({ config, logger, dbs, redis, temporal: client }), search };
  const worker = await createWorker({ connection: native, config, deps, taskQueue, workflowBundle: bundle });
  const running = worker.run();
  const children: ChildProcess[] = [];
  const levels: SearchLevel[] = [];
  try {
    const port = await freePort();
    children.push(spawnApi(env, port));
    await untilHealthy(port);
    const apiPid = children[0]?.pid;
    const esPid = elasticsearchPid();
    const base = `http://127.0.0.1:${port}`;
    /** Answers from PostgreSQL (Elasticsearch slower than SEARCH_TIMEOUT_MS, or the breaker open) are counted, and are no find. */
    let fallbacks = 0;
    /** Server-Timing steps of the measured searches (collected while `timings` is set). */
    let timings: Map<string, number[]> | undefined;
    const find = async (qs: string) => {
      const res = await fetch(`${base}/products?${qs}`);
      if (res.status !== 200) throw new Error(`GET /products?${qs} answered ${res.status}`);
      for (const step of timings ? (res.headers.get('server-timing') ?? '').split(', ') : []) {
        const [name, ms] = step.split(';dur=');
        if (name && ms) timings?.set(name, [...(timings.get(name) ?? []), Number(ms)]);
      }
      const body = (await res.json()) as { items: { sku: string }[] };
      if (res.headers.get('x-search-engine') === 'elasticsearch') return body;
      fallbacks++;
      return { items: [] };
    };
    /** Waits until `?q=<token>` lists the sku (the sync wrote it and the index refreshed). */
    const foundByApi = async (sku: string, token: string) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        if ((await find(`q=${token}&limit=5`)).items.some((p) => p.sku === sku)) return;
        if (Date.now() > deadline) throw new Error(`${sku} not found by ?q=${token} in 60 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const put = async (sku: string, name: string) => {
      const res = await fetch(`${base}/admin/products/${sku}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${config.adminApiToken}` },
        body: JSON.stringify({ name, description: 'scale bench product', category: 'cat-0', price: { amount: 1500, currency: 'USD' } }),
      });
      if (res.status !== 200) throw new Error(`PUT /admin/products answered ${res.status}`);
    };

    // The sync runs before the load: its stock watermark passes a sentinel's change, so the
    // loaded rows (an hour old) are the reindex's to index, not the sync's.
    await search.ensureIndex();
    const sentinel = `SCALE-SENTINEL-${run}`;
    const sentinelToken = `s${randomBytes(6).toString('hex')}`;
    await upsertProduct(dbs.catalog, { sku: sentinel, name: `Sentinel ${sentinelToken}`, priceAmount: 100, currency: 'USD' });
    await setOnHand(dbs.inventory, sentinel, 1);
    await kickSearchSync(client, config);
    await foundByApi(sentinel, sentinelToken);

    let loaded = 0;
    for (const size of mode.searchSizes) {
      const t0 = performance.now();
      await loadProducts(dbs, loaded, size);
      await dbs.catalog.execute(sql`analyze catalog.products`);
      await dbs.inventory.execute(sql`analyze inventory.stock`);
      const loadSeconds = (performance.now() - t0) / 1000;
      loaded = size;
      const t1 = performance.now();
      const r = await reindex(adminConfig);
      const reindexSeconds = (performance.now() - t1) / 1000;
      process.stdout.write(`[scale] search: ${size} products loaded in ${loadSeconds.toFixed(1)} s, reindexed (${r.loaded} documents) in ${reindexSeconds.toFixed(1)} s\n`);

      // warm-up, untimed: caches on the new index (and, before the first size, the JIT of a fresh node and API)
      await runLevel(mode.searchConcurrency, levels.length === 0 ? 400 : 40, async (n) => void (await find(queryOf(n).qs)));
      fallbacks = 0;
      const all: number[] = [];
      const byShape = new Map<string, number[]>();
      const cacheStats = async () => {
        const stats = await search.client.indices.stats({ index: alias, metric: 'request_cache' });
        const c = stats._all.primaries?.request_cache;
        return { hits: c?.hit_count ?? 0, misses: c?.miss_count ?? 0 };
      };
      const cache0 = await cacheStats();
      timings = new Map();
      const cpu0 = { es: cpuMs(esPid), api: cpuMs(apiPid) };
      const load = await runLevel(mode.searchConcurrency, mode.searches, async (n) => {
        const { shape, qs } = queryOf(n);
        const t = performance.now();
        await find(qs);
        const ms = performance.now() - t;
        all.push(ms);
        byShape.set(shape, [...(byShape.get(shape) ?? []), ms]);
      });
      const cpu1 = { es: cpuMs(esPid), api: cpuMs(apiPid) };
      const cache1 = await cacheStats();
      const serverTiming = Object.fromEntries([...timings].map(([k, v]) => [k, { p50ms: +pct(v, 50).toFixed(1), p99ms: +pct(v, 99).toFixed(1) }]));
      timings = undefined;
      // the same searches straight to Elasticsearch (the API's requests — hits and facets, sent
      // together — no API, no availability read; `took` is the slower of the two), interleaved
      // with the same searches as one request (the body before the split: hits, exact total and
      // facets together, no request cache) so both see the same load
      const engine: number[] = [];
      const took: number[] = [];
      const single: number[] = [];
      await runLevel(mode.searchConcurrency, 2 * mode.searches, async (i) => {
        const { hits, facets } = searchRequests(alias, queryOf(i >> 1).query);
        const t = performance.now();
        if (i % 2 === 1) {
          await search.client.search({ ...hits, track_total_hits: true, aggs: facets.aggs });
          single.push(performance.now() - t);
          return;
        }
        const res = await Promise.all([search.client.search(hits), search.client.search(facets)]);
        engine.push(performance.now() - t);
        took.push(Math.max(...res.map((r) => r.took)));
      });

      const searchFallbacks = fallbacks;
      const lags: number[] = [];
      await runLevel(mode.syncConcurrency, mode.syncUpdates, async (n) => {
        const sku = skuOf((n * 7919 + size) % size);
        // a random word no other product has (the search is typo-tolerant: counters would match older names)
        const token = `u${randomBytes(6).toString('hex')}`;
        await put(sku, `Scale ${token}`);
        const t = performance.now();
        await foundByApi(sku, token);
        lags.push(performance.now() - t);
      });
      const level: SearchLevel = {
        products: size,
        loadSeconds: +loadSeconds.toFixed(1),
        reindexSeconds: +reindexSeconds.toFixed(1),
        searches: mode.searches,
        concurrency: mode.searchConcurrency,
        searchPerSecond: +load.perSecond.toFixed(0),
        searchP50ms: +pct(all, 50).toFixed(1),
        searchP99ms: +pct(all, 99).toFixed(1),
        searchFallbacks,
        engineP50ms: +pct(engine, 50).toFixed(1),
        engineP99ms: +pct(engine, 99).toFixed(1),
        engineTookP50ms: pct(took, 50),
        engineTookP99ms: pct(took, 99),
        engineSingleP50ms: +pct(single, 50).toFixed(1),
        engineSingleP99ms: +pct(single, 99).toFixed(1),
        facetCacheHitRatio: +((cache1.hits - cache0.hits) / Math.max(1, cache1.hits - cache0.hits + cache1.misses - cache0.misses)).toFixed(3),
        serverTiming,
        esCpuMsPerSearch: +((cpu1.es - cpu0.es) / mode.searches).toFixed(2),
        apiCpuMsPerSearch: +((cpu1.api - cpu0.api) / mode.searches).toFixed(2),
        byShape: Object.fromEntries([...byShape].map(([k, v]) => [k, { p50ms: +pct(v, 50).toFixed(1), p99ms: +pct(v, 99).toFixed(1) }])),
        syncUpdates: mode.syncUpdates,
        syncLagP50ms: Math.round(pct(lags, 50)),
        syncLagP99ms: Math.round(pct(lags, 99)),
        syncLagMaxMs: Math.round(Math.max(...lags)),
      };
      process.stdout.write(`[scale] search: ${JSON.stringify(level)}\n`);
      levels.push(level);
    }
  } finally {
    await stopChildren(children);
    await client.workflow.getHandle(searchSyncWorkflowId(alias)).terminate('scale bench over').catch(() => undefined);
    worker.shutdown();
    await running;
    deps.mailer.close();
    const live = await search.liveIndex().catch(() => undefined);
    if (live) await search.client.indices.delete({ index: live }).catch(() => undefined);
    await search.close();
    await native.close();
    await client.connection.close();
    redis.disconnect();
    await dbs.close();
  }
  return {
    levels,
    // 1 / 5 / 15-minute load averages of the machine when the part started and ended (2 cores: above 2, searches wait for a core)
    loadAverage: { start: loadAtStart, end: os.loadavg().map((x) => +x.toFixed(2)) },
    shape: `GET /products through an API in its own process, ${mode.searches} searches per size at concurrency ${mode.searchConcurrency}, four shapes in turn (text, text+category, category by price, browse newest), limit 20 with facets; sync lag: ${mode.syncUpdates} PUT /admin/products at concurrency ${mode.syncConcurrency}, each until GET /products?q=<its new word> lists it; reindex: scripts/reindex.ts from the stores into a new index, alias swapped`,
    targets: { searchP99At100k: '< 100 ms', syncLagP99: '< 2000 ms', reindexAt100k: '< 120 s' },
  };
}
