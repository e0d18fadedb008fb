import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { products, searchOutbox } from '../../db/schema/catalog';
import { stock } from '../../db/schema/inventory';
import { upsertProduct } from '../../db/stores/catalog';
import { searchOutboxDepth } from '../../db/stores/search-outbox';
import { setOnHand } from '../../db/stores/inventory';
import { toSearchDocument } from '../../db/search-engine/document';
import type { SearchIndex } from '../../db/search-engine/search-index';
import { reindex } from '../../scripts/reindex';
import { kickSearchSync } from '../../temporal/search-sync';
import { createTestDatabase } from '../helpers/database';
import { startElasticsearchNode } from '../helpers/elasticsearch';
import { eventually } from '../helpers/eventually';
import { uniqueTaskQueue } from '../helpers/temporal';
import { startStack, uniqueSku, type Stack } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '../..');

/** Every product's version in the database against the version the index holds. */
async function divergence(stack: Stack, search: SearchIndex = stack.search): Promise<string[]> {
  const rows = await stack.dbs.catalog.select({ sku: products.sku, version: products.version }).from(products);
  const levels = new Map((await stack.dbs.inventory.select({ sku: stock.sku, version: stock.version }).from(stock)).map((l) => [l.sku, l.version]));
  const indexed = await search.indexedVersions(rows.map((r) => r.sku));
  return rows
    .filter((r) => {
      const held = indexed.get(r.sku);
      return !held || held.productVersion !== r.version || held.stockVersion !== (levels.get(r.sku) ?? 0);
    })
    .map((r) => r.sku);
}

async function converged(stack: Stack, ms: number): Promise<void> {
  await eventually(async () => ((await searchOutboxDepth(stack.dbs.catalog)) === 0 && (await divergence(stack)).length === 0 ? true : undefined), ms, 'index converged to the database');
}

describe('search sync: ordering', () => {
  let stack: Stack;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase('order');
    stack = await startStack({ env: { DATABASE_URL: db.url } });
    await stack.search.ensureIndex();
  });
  afterAll(async () => {
    await stack?.close();
    await db?.drop();
  });

  it('out-of-order delivery of two versions leaves the newer one indexed', async () => {
    const sku = uniqueSku('ORD');
    const v1 = await upsertProduct(stack.dbs.catalog, { sku, name: 'First name', priceAmount: 100, currency: 'USD' });
    const v2 = await upsertProduct(stack.dbs.catalog, { sku, name: 'Second name', priceAmount: 200, currency: 'USD' });
    expect([v1.version, v2.version]).toEqual([1, 2]);
    const newer = toSearchDocument(v2, { available: 3, version: 7 });
    const older = toSearchDocument(v1, { available: 9, version: 9 });
    expect(await stack.search.indexDocuments([newer])).toEqual({ indexed: 1, stale: 0 });
    // the older catalog version arrives late, even with a later stock reading: refused
    expect(await stack.search.indexDocuments([older])).toEqual({ indexed: 0, stale: 1 });
    // and the same version again is a no-op
    expect(await stack.search.indexDocuments([newer])).toEqual({ indexed: 0, stale: 1 });
    const doc = await stack.search.client.get<{ name: string; price: number; available: number }>({ index: stack.search.alias, id: sku });
    expect(doc._source).toMatchObject({ name: 'Second name', price: 200, available: 3 });
    // a newer stock reading of the same catalog version does go through
    expect(await stack.search.indexDocuments([toSearchDocument(v2, { available: 1, version: 8 })])).toEqual({ indexed: 1, stale: 0 });
  });
});

describe('search sync: a worker killed mid-sync', () => {
  let stack: Stack;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const taskQueue = uniqueTaskQueue('search-crash');
  const workers: ChildProcess[] = [];
  const startWorker = (env: Record<string, string> = {}) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, SEARCH_INDEX: stack.config.search.alias, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: taskQueue, ...env },
      stdio: 'ignore',
    });
    workers.push(child);
    return child;
  };
  beforeAll(async () => {
    db = await createTestDatabase('crash');
    stack = await startStack({ env: { DATABASE_URL: db.url, TEMPORAL_TASK_QUEUE: taskQueue } });
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
    await db?.drop();
  });

  it('SIGKILL while the index is being filled: a new worker converges every product to its database version', async () => {
    // 2,000 changes queued before any worker runs: several drains of 500.
    const skus = Array.from({ length: 1_000 }, () => uniqueSku('K'));
    for (const sku of skus) await upsertProduct(stack.dbs.catalog, { sku, name: `Kill test ${sku}`, priceAmount: 100, currency: 'USD' });
    for (const sku of skus) await upsertProduct(stack.dbs.catalog, { sku, name: `Kill test ${sku} v2`, priceAmount: 150, currency: 'USD' });
    for (const sku of skus.slice(0, 200)) await setOnHand(stack.dbs.inventory, sku, 4);
    expect(await searchOutboxDepth(stack.dbs.catalog)).toBe(2_000);

    // Each tick pauses 300 ms first, so the kill lands while drains are still to come.
    const first = startWorker({ FAULT_PAUSE_BEFORE: 'syncSearchIndex', FAULT_PAUSE_MS: '300' });
    await eventually(async () => ((await searchOutboxDepth(stack.dbs.catalog)) < 2_000 ? true : undefined), 60_000, 'first drain');
    const depthAtKill = await searchOutboxDepth(stack.dbs.catalog);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(depthAtKill).toBeGreaterThan(0);

    // Changes keep coming while no worker runs.
    for (const sku of skus.slice(0, 50)) await upsertProduct(stack.dbs.catalog, { sku, name: `Kill test ${sku} v3`, priceAmount: 175, currency: 'USD' });
    startWorker();
    await converged(stack, 90_000);
    const held = await stack.search.indexedVersions(skus.slice(0, 1));
    expect(held.get(skus[0] as string)?.productVersion).toBe(3);
  }, 180_000);
});

describe('search sync: Elasticsearch down, then back', () => {
  let es: Awaited<ReturnType<typeof startElasticsearchNode>>;
  let stack: Stack;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  beforeAll(async () => {
    es = await startElasticsearchNode();
    db = await createTestDatabase('down');
    stack = await startStack({ worker: true, env: { DATABASE_URL: db.url, ELASTICSEARCH_URL: es.url, SEARCH_STOCK_SYNC_MS: '300', SEARCH_TIMEOUT_MS: '500' } });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await db?.drop();
    await es?.remove();
  });

  it('search answers from PostgreSQL, /health says degraded, the outbox keeps changes and drains when it is back', async () => {
    const word = `tapir${randomBytes(3).toString('hex')}`;
    const sku = uniqueSku('DN');
    await stack.http('PUT', `/admin/products/${sku}`, { body: { name: `${word} mug`, price: { amount: 1200, currency: 'USD' } }, headers: admin });
    await eventually(async () => {
      const res = await stack.http('GET', `/products?q=${word}`);
      return res.headers.get('x-search-engine') === 'elasticsearch' && res.body.items.length === 1 ? true : undefined;
    }, 10_000);

    await es.stop();
    const degraded = await stack.http('GET', `/products?q=${word}`);
    expect(degraded.status).toBe(200);
    expect(degraded.headers.get('x-search-engine')).toBe('postgres');
    expect(degraded.headers.get('x-search-degraded')).toBe('true');
    expect(degraded.body.items.map((p: { sku: string }) => p.sku)).toEqual([sku]);
    expect(degraded.body.facets.price.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(1);
    const suggest = await stack.http('GET', `/products/suggest?q=${word}`);
    expect(suggest.status).toBe(200);
    expect(suggest.body.items).toEqual([{ sku, name: `${word} mug` }]);
    const health = await stack.http('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'degraded', checks: { postgres: 'ok', redis: 'ok', temporal: 'ok', search: 'down' } });

    // Writes go on; the changes wait in the outbox.
    const renamed = `okra${randomBytes(3).toString('hex')}`;
    const update = await stack.http('PUT', `/admin/products/${sku}`, { body: { name: `${renamed} mug`, price: { amount: 1300, currency: 'USD' } }, headers: admin });
    expect(update.status).toBe(200);
    const other = uniqueSku('DN');
    expect((await stack.http('PUT', `/admin/products/${other}`, { body: { name: `${renamed} bowl`, price: { amount: 900, currency: 'USD' } }, headers: admin })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await searchOutboxDepth(stack.dbs.catalog)).toBeGreaterThanOrEqual(2);
    // the fallback already shows the new data
    const fromPg = await stack.http('GET', `/products?q=${renamed}&sort=price_asc`);
    expect(fromPg.body.items.map((p: { sku: string }) => p.sku)).toEqual([other, sku]);

    await es.restart();
    await eventually(
      async () => {
        const res = await stack.http('GET', `/products?q=${renamed}&sort=price_asc`);
        return res.headers.get('x-search-engine') === 'elasticsearch' && res.body.items.length === 2 ? true : undefined;
      },
      30_000,
      'index caught up after the restart',
    );
    // (the drain removes its rows once Elasticsearch acknowledged them: just after the index shows them)
    await eventually(async () => ((await searchOutboxDepth(stack.dbs.catalog)) === 0 ? true : undefined), 10_000, 'the outbox drained');
    expect((await stack.http('GET', '/health')).body.status).toBe('ok');
  }, 120_000);
});

describe('npm run reindex during a stream of updates', () => {
  let stack: Stack;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase('reindex');
    stack = await startStack({ worker: true, env: { DATABASE_URL: db.url, SEARCH_STOCK_SYNC_MS: '300' } });
  });
  afterAll(async () => {
    await stack?.close();
    await db?.drop();
  });

  it('loses no update, and search answers from Elasticsearch throughout', async () => {
    const skus = Array.from({ length: 300 }, () => uniqueSku('RX'));
    for (const sku of skus) await upsertProduct(stack.dbs.catalog, { sku, name: `Reindex ${sku}`, priceAmount: 100, currency: 'USD' });
    await kickSearchSync(stack.temporal, stack.config);
    await converged(stack, 60_000);
    const before = await stack.search.liveIndex();

    let streaming = true;
    let updates = 0;
    const stream = (async () => {
      while (streaming) {
        const sku = skus[updates % skus.length] as string;
        await upsertProduct(stack.dbs.catalog, { sku, name: `Reindex ${sku} u${updates}`, priceAmount: 100 + updates, currency: 'USD' });
        if (updates % 7 === 0) await setOnHand(stack.dbs.inventory, sku, updates % 13);
        if (updates % 10 === 0) await kickSearchSync(stack.temporal, stack.config);
        updates++;
      }
    })();
    const engines = new Set<string>();
    let failures = 0;
    const reader = (async () => {
      while (streaming) {
        const res = await stack.http('GET', '/products?q=reindex&limit=5');
        if (res.status !== 200) failures++;
        engines.add(res.headers.get('x-search-engine') ?? 'none');
      }
    })();

    const result = await reindex(stack.config);
    await new Promise((r) => setTimeout(r, 1_000));
    streaming = false;
    await Promise.all([stream, reader]);
    await kickSearchSync(stack.temporal, stack.config);

    expect(updates).toBeGreaterThan(50);
    expect(result.loaded).toBe(300);
    expect(result.previous).toBe(before);
    expect(await stack.search.liveIndex()).toBe(result.index);
    expect(failures).toBe(0);
    expect([...engines]).toEqual(['elasticsearch']);
    await converged(stack, 60_000);
    const outbox = await stack.dbs.catalog.select().from(searchOutbox);
    expect(outbox).toEqual([]);
  }, 180_000);
});
