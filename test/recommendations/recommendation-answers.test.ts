import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { recommendationActivities } from '../../activities/recommendations';
import { loadConfig, type Config } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { createRedis, type RedisClient } from '../../db/redis';
import { deactivateProduct, upsertProduct } from '../../db/stores/catalog';
import { setOnHand } from '../../db/stores/inventory';
import { createOrder, transitionOrder } from '../../db/stores/orders';
import { RecommendationStore } from '../../db/stores/recommendations';
import type { RecommendationBuild } from '../../domain/recommendations';
import { RecommendationAnswers } from '../../usecases/recommendation-answers';
import type { Recommendations } from '../../usecases/recommend-products';
import { createTestDatabase } from '../helpers/database';
import { redisTargets } from '../helpers/redis-cluster';
import { createProduct } from '../helpers/stack';

/**
 * The precomputed answers (usecases/recommendation-answers.ts) on real PostgreSQL (a database of
 * the suite's own) and Redis, one node and the local Redis Cluster: a warm request reads no
 * PostgreSQL; what the catalog and stock say shows after one poll.
 */
describe.each(redisTargets)('precomputed recommendation answers on %s', (_target, connect) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let config: Config;
  /** The answers' own pools (every query on them is counted) and the writers' (tests and activities). */
  let served: Databases;
  let writer: Databases;
  let redis: RedisClient;
  let store: RecommendationStore;
  let activities: ReturnType<typeof recommendationActivities>;
  let answers: RecommendationAnswers;
  let release: (() => Promise<void>) | undefined;
  let queries = 0;
  let counting = false;
  const prefix = `reco-a-${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    const target = await connect();
    release = target.release;
    db = await createTestDatabase('reco_answers');
    config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', DATABASE_URL: db.url, RECOMMENDATIONS_KEY_PREFIX: prefix, ...target.env });
    served = createDatabases(config);
    writer = createDatabases(config);
    redis = createRedis(config);
    store = new RecommendationStore(redis, prefix);
    activities = recommendationActivities({ dbs: writer, recommendations: store, config });
    // A poll interval far longer than the test: the only polls are the first request's and `refresh()`.
    answers = new RecommendationAnswers({ dbs: served, recommendations: store }, { pollMs: 600_000, maxAgeMs: 600_000, entries: 1_000 });
    const poolOf = (d: unknown) => (d as { $client: Pool }).$client;
    for (const pool of new Set([poolOf(served.catalog), poolOf(served.inventory)])) pool.on('acquire', () => (queries += counting ? 1 : 0));
  });
  afterAll(async () => {
    answers?.stop();
    redis?.disconnect();
    await served?.close();
    await writer?.close();
    await db?.drop();
    await release?.();
  });

  async function paidOrder(skus: string[]): Promise<string> {
    const orderId = await createOrder(writer.order, {
      checkoutId: `chk_${randomBytes(8).toString('hex')}`,
      cartId: `cart_${randomBytes(8).toString('hex')}`,
      email: 'answers@example.com',
      currency: 'USD',
      totalAmount: skus.length * 1000,
      lines: skus.map((sku) => ({ sku, name: sku, quantity: 1, unitPrice: 1000, lineTotal: 1000 })),
    });
    await transitionOrder(writer.order, orderId, 'paid');
    return orderId;
  }
  const bought = async (skus: string[]) => activities.recordPurchaseForRecommendations({ orderId: await paidOrder(skus) });
  /** An answer, and how many PostgreSQL queries the answers' pools saw while it was made. */
  async function ask(sku: string, limit = 5): Promise<{ answer: Recommendations; queries: number }> {
    queries = 0;
    counting = true;
    try {
      const answer = await answers.answer(sku, limit);
      if (answer.kind !== 'recommendations') throw new Error(`answered ${answer.code}`);
      return { answer, queries };
    } finally {
      counting = false;
    }
  }
  const skusOf = (a: Recommendations) => a.items.map((i) => i.sku);

  it('a warm request reads no PostgreSQL, and a sell-out, rename, reprice, purchase and deactivation show after one poll', async () => {
    const category = `ans-${randomBytes(3).toString('hex')}`;
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => createProduct(writer, { category, onHand: 10 })));
    await bought([a as string, b as string, c as string]);
    await bought([a as string, b as string]);
    await ask(a as string); // the first request: the first poll (every product and stock level)

    const warm = await ask(a as string);
    expect(warm.queries).toBe(0);
    expect(skusOf(warm.answer)).toEqual([b, c]);
    expect(warm.answer.items[0]).toEqual({ sku: b, name: expect.any(String), price: { amount: 1000, currency: 'USD' }, available: 10, score: expect.closeTo(2, 2), reason: 'also_bought' });

    await setOnHand(writer.inventory, b as string, 0);
    await upsertProduct(writer.catalog, { sku: c as string, name: 'renamed', category, priceAmount: 1234, currency: 'USD' });
    await bought([a as string, d as string]);
    // not polled yet: the state the last poll read (the bound is 2 × the interval)
    const before = await ask(a as string);
    expect(before.queries).toBe(0);
    expect(skusOf(before.answer)).toContain(b);

    await answers.refresh();
    const after = await ask(a as string);
    // the new version made it read the answers from Redis again: still no PostgreSQL
    expect(after.queries).toBe(0);
    expect(skusOf(after.answer)).not.toContain(b);
    expect(after.answer.items.find((i) => i.sku === c)).toMatchObject({ name: 'renamed', price: { amount: 1234, currency: 'USD' }, reason: 'also_bought' });
    expect(after.answer.items.find((i) => i.sku === d)).toMatchObject({ available: 10, reason: 'also_bought' });

    await deactivateProduct(writer.catalog, d as string);
    await setOnHand(writer.inventory, b as string, 3);
    await answers.refresh();
    const last = await ask(a as string);
    expect(last.queries).toBe(0);
    expect(skusOf(last.answer)).not.toContain(d);
    expect(last.answer.items.find((i) => i.sku === b)).toMatchObject({ available: 3, reason: 'also_bought' });
  });

  it('after a poll every sku is warm: its first ask is a hit; a purchase re-reads only the answers it changed (in the poll), a purchase elsewhere drops nothing', async () => {
    const category = `warm-${randomBytes(3).toString('hex')}`;
    const [a, b, c, x, y] = await Promise.all([1, 2, 3, 4, 5].map(() => createProduct(writer, { category, onHand: 10 })));
    await bought([a as string, b as string]);
    await bought([c as string, b as string]);
    await answers.refresh();
    await answers.settled();
    const reads = { n: 0 };
    const original = store.rawAnswers.bind(store);
    store.rawAnswers = (gen, owners) => ((reads.n += owners.length), original(gen, owners));
    try {
      // never asked in this process: answered from the warm-up, no I/O at all
      const first = await answers.answer(c as string, 5);
      expect(answers.hits.has(first)).toBe(true);
      expect(first.kind === 'recommendations' && skusOf(first)).toEqual([b, a]);
      expect(reads.n).toBe(0);

      // a purchase of other skus: the poll re-reads their answers (and the categories'), not c's or a's
      await bought([x as string, y as string]);
      await answers.refresh();
      expect(reads.n).toBeGreaterThan(0);
      expect(reads.n).toBeLessThanOrEqual(4); // x, y, their category, every category
      reads.n = 0;
      expect(answers.hits.has(await answers.answer(a as string, 5))).toBe(true);

      // a purchase with c: re-read by the poll, so the next ask is a hit that shows it
      await bought([c as string, x as string]);
      await bought([c as string, x as string]);
      await answers.refresh();
      const after = await answers.answer(c as string, 5);
      expect(answers.hits.has(after)).toBe(true);
      expect(after.kind === 'recommendations' && skusOf(after)[0]).toBe(x);
    } finally {
      store.rawAnswers = original;
    }
  });

  it('a purchase counted by a worker of the build before the change log (rolling deploy: version moved, nothing recorded) drops the cached answers instead of keeping them stale', async () => {
    const category = `old-${randomBytes(3).toString('hex')}`;
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => createProduct(writer, { category, onHand: 10 })));
    await bought([a as string, b as string]);
    await answers.refresh();
    await answers.settled();
    const before = await answers.answer(a as string, 5);
    expect(answers.hits.has(before)).toBe(true);
    expect(before.kind === 'recommendations' && skusOf(before)).toEqual([b]);
    // the older build's markChanged: it moved the version and recorded no changed answers
    const markChanged = store.markChanged.bind(store);
    store.markChanged = async (builds: RecommendationBuild[]) => {
      await Promise.all(builds.map((build) => redis.hincrby(`${prefix}{ptr}:versions`, build.generation, 1)));
    };
    try {
      await bought([a as string, c as string]);
      await bought([a as string, c as string]);
    } finally {
      store.markChanged = markChanged;
    }
    await answers.refresh();
    const after = await answers.answer(a as string, 5);
    expect(after.kind === 'recommendations' && skusOf(after)[0]).toBe(c);
  });

  it('the per-process cache stays within its count and byte budget', async () => {
    const small = new RecommendationAnswers({ dbs: served, recommendations: store }, { pollMs: 600_000, maxAgeMs: 600_000, entries: 5, maxBytes: 6_000 });
    try {
      const skus = await Promise.all(Array.from({ length: 8 }, () => createProduct(writer, { onHand: 10 })));
      for (let i = 0; i + 1 < skus.length; i++) await bought([skus[i] as string, skus[i + 1] as string]);
      await small.refresh();
      await small.settled();
      for (const sku of skus) expect((await small.answer(sku, 5)).kind).toBe('recommendations');
      expect(small.cacheSize.entries).toBeGreaterThan(0);
      expect(small.cacheSize.entries).toBeLessThanOrEqual(5);
      expect(small.cacheSize.bytes).toBeLessThanOrEqual(6_000);
    } finally {
      small.stop();
    }
  });

  it('concurrent purchases of one sku leave its stored answer equal to its sorted set; a writer that read an older set writes nothing', async () => {
    const a = await createProduct(writer, { onHand: 10 });
    const partners = await Promise.all(Array.from({ length: 6 }, () => createProduct(writer, { onHand: 10 })));
    await Promise.all(partners.map((p) => bought([a, p])));
    const build = (await store.current()) as RecommendationBuild;
    const [stored] = await store.answers(build.generation, a, 'all');
    const set = await store.alsoBoughtAll(build, a);
    expect(stored?.entries.map(([sku, raw]) => [sku, raw])).toEqual(set.map((s) => [s.sku, s.raw]));
    expect(set).toHaveLength(6);

    // a writer that read the set before a later purchase changed it does not overwrite that purchase's answer
    const [stale] = await store.answerSources(build, [{ sku: a }]);
    const extra = await createProduct(writer, { onHand: 10 });
    await bought([a, extra]);
    expect(await store.storeAnswers(build, [{ source: stale as NonNullable<typeof stale>, answer: { entries: [] } }])).toBe(0);
    const [kept] = await store.answers(build.generation, a, 'all');
    expect(kept?.entries.map(([sku]) => sku)).toContain(extra);
    expect(kept?.entries).toHaveLength(7);
  });

  it('a recompute writes the answers of its generation (partners and the category fallback), served without PostgreSQL once published', async () => {
    const category = `rc-${randomBytes(3).toString('hex')}`;
    const [a, b, c, lonely] = await Promise.all([1, 2, 3, 4].map(() => createProduct(writer, { category, onHand: 10 })));
    for (let i = 0; i < 3; i++) await paidOrder([a as string, b as string]);
    await paidOrder([a as string, c as string]);
    const build = await activities.beginRecommendationBuild({ generation: `g${randomBytes(6).toString('hex')}` });
    expect(build.answers).toBe(true);
    let after: string | undefined;
    for (;;) {
      const page = await activities.countPurchasesForRecommendations({ build, after, limit: 2 });
      if (page.done) break;
      after = page.last;
    }
    await activities.publishRecommendationBuild(build);
    await answers.refresh();

    await ask(a as string); // reads the new generation's answers from Redis
    const partners = await ask(a as string);
    expect(partners.queries).toBe(0);
    expect(skusOf(partners.answer).slice(0, 2)).toEqual([b, c]);
    expect(partners.answer.items[0]?.score).toBeCloseTo(3, 1);

    await ask(lonely as string);
    const fallback = await ask(lonely as string);
    expect(fallback.queries).toBe(0);
    expect(fallback.answer.source).toBe('bestsellers');
    expect(skusOf(fallback.answer)).toEqual([a, b, c]);
  });
});
