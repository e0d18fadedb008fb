import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { createActivities, type OrderlyActivities } from '../../activities';
import { orders } from '../../db/schema/order';
import { deactivateProduct, upsertProduct } from '../../db/stores/catalog';
import { setOnHand } from '../../db/stores/inventory';
import { createOrder, transitionOrder } from '../../db/stores/orders';
import { RecommendationStore } from '../../db/stores/recommendations';
import { decayedScore, type RecommendationBuild } from '../../domain/recommendations';
import { ensureSchedules } from '../../temporal/schedules';
import { RECOMMENDATIONS_RECOMPUTE_SCHEDULE_ID } from '../../temporal/workflow-ids';
import { recommendationRecomputeStatusQuery, type RecommendationRecomputeSummary } from '../../workflows/messages';
import { createTestDatabase } from '../helpers/database';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startRestartableWorker } from '../helpers/worker';

/**
 * "Also bought" end to end: real PostgreSQL (a database of the suite's own, so a recompute
 * reads only these orders), Redis (a key prefix of its own) and the Temporal dev server.
 */
describe('recommendations (real PostgreSQL, Redis, Temporal)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let activities: OrderlyActivities;
  let store: RecommendationStore;
  const prefix = `reco-t-${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    db = await createTestDatabase('reco');
    stack = await startStack({ worker: true, env: { DATABASE_URL: db.url, RECOMMENDATIONS_KEY_PREFIX: prefix, CHECKOUT_WAIT_MS: '30000' } });
    activities = createActivities(stack.activityDeps!);
    store = new RecommendationStore(stack.redis, prefix);
  });
  afterAll(async () => {
    await stack?.close();
    await db?.drop();
  });

  /** A paid order written through the order store (what the checkout's createOrder and markOrderPaid write). */
  async function seedPaidOrder(skus: string[], opts: { daysAgo?: number } = {}): Promise<string> {
    const orderId = await createOrder(stack.dbs.order, {
      checkoutId: `chk_seed_${randomBytes(8).toString('hex')}`,
      cartId: `cart_seed_${randomBytes(8).toString('hex')}`,
      email: 'seed@example.com',
      currency: 'USD',
      totalAmount: skus.length * 1000,
      lines: skus.map((sku) => ({ sku, name: sku, quantity: 1, unitPrice: 1000, lineTotal: 1000 })),
    });
    await transitionOrder(stack.dbs.order, orderId, 'paid');
    if (opts.daysAgo) {
      await stack.dbs.order.update(orders).set({ createdAt: sql`now() - make_interval(days => ${opts.daysAgo})` }).where(eq(orders.id, orderId));
    }
    return orderId;
  }

  const recommendations = (sku: string, query = '') => stack.http('GET', `/products/${sku}/recommendations${query}`);
  const skusOf = (body: { items: { sku: string }[] }) => body.items.map((i) => i.sku);
  type Answer = Awaited<ReturnType<typeof recommendations>>;
  /**
   * The first answer that passes `check`. Each API process answers from its own cache, which
   * its poll refreshes (a purchase counted or a recompute published shows within
   * 2 × RECOMMENDATIONS_CACHE_POLL_MS), so a write is never asserted on the very next ask.
   */
  const answerShowing = (sku: string, check: (body: Answer['body']) => boolean, query = '') =>
    eventually(async () => {
      const res = await recommendations(sku, query);
      return res.status === 200 && check(res.body) ? res : undefined;
    }, 10_000, `the answer for ${sku} showing the change`);

  let recomputes = 0;
  async function recompute(input: { pageSize?: number; pagesPerRun?: number } = {}, history?: string) {
    recomputes += 1;
    const handle = await stack.temporal.workflow.start('recommendationRecomputeWorkflow', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: `reco-recompute-${randomBytes(4).toString('hex')}-${recomputes}`,
      args: [{ pageSize: input.pageSize ?? 50, pagesPerRun: input.pagesPerRun ?? 5, retireAfterSeconds: 0 }],
    });
    const summary = (await handle.result()) as RecommendationRecomputeSummary;
    if (history) {
      await recordHistory(stack.temporal.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId), 'recommendationRecomputeWorkflow', `${history}-first-run`);
      await recordHistory(stack.temporal.workflow.getHandle(handle.workflowId), 'recommendationRecomputeWorkflow', `${history}-last-run`);
    }
    return summary;
  }

  it('a paid order (real checkout) shows up as "also bought" through the checkout workflow\'s own call after markOrderPaid, counted once however often it runs', async () => {
    const [a, b, c] = [await createProduct(stack.dbs, { onHand: 20 }), await createProduct(stack.dbs, { onHand: 20 }), await createProduct(stack.dbs, { onHand: 20 })];
    const cart = await stack.http('POST', '/carts', { body: {} });
    for (const sku of [a, b, c]) await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 1 } });
    const placed = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'reco' }, body: { cartId: cart.body.id, email: 'reco@example.com', paymentToken: 'tok_visa' } });
    expect(placed.status).toBe(201);
    await stack.temporal.workflow.getHandle(`checkout-${cart.body.id}`).result();
    const orderId = placed.body.orderId as string;

    // the workflow counted it after markOrderPaid (patch recommendations-after-paid): a re-run counts nothing
    expect(await activities.recordPurchaseForRecommendations({ orderId })).toMatchObject({ counted: false });
    expect(await activities.recordPurchaseForRecommendations({ orderId })).toMatchObject({ counted: false });

    const after = await answerShowing(a, (body) => body.source === 'also_bought' && skusOf(body).includes(b) && skusOf(body).includes(c));
    expect(after.status).toBe(200);
    expect(after.body.source).toBe('also_bought');
    expect(after.body.items).toEqual(
      expect.arrayContaining([
        { sku: b, name: expect.any(String), price: { amount: 1000, currency: 'USD' }, available: 19, score: expect.any(Number), reason: 'also_bought' },
        expect.objectContaining({ sku: c, reason: 'also_bought' }),
      ]),
    );
    // one order, just bought: a weight of 1 (counted twice it would be 2)
    const scoreOf = (sku: string) => after.body.items.find((i: { sku: string }) => i.sku === sku)?.score as number;
    expect(scoreOf(b)).toBeCloseTo(1, 2);
    expect(skusOf(after.body)).not.toContain(a);
  });

  it('a fully refunded order (real refund workflow) drops out of the scores, and a recompute leaves it out', async () => {
    const [a, b] = [await createProduct(stack.dbs), await createProduct(stack.dbs)];
    const cart = await stack.http('POST', '/carts', { body: {} });
    for (const sku of [a, b]) await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 2 } });
    const placed = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'reco-refund' }, body: { cartId: cart.body.id, email: 'reco@example.com', paymentToken: 'tok_visa' } });
    await stack.temporal.workflow.getHandle(`checkout-${cart.body.id}`).result();
    const orderId = placed.body.orderId as string;
    await activities.recordPurchaseForRecommendations({ orderId });
    expect(skusOf((await answerShowing(a, (body) => skusOf(body).includes(b))).body)).toContain(b);

    // before the refund the order's sale stands: forgetting it does nothing
    expect(await activities.forgetPurchaseForRecommendations({ orderId })).toEqual({ removed: false });
    const refund = await stack.http('POST', `/orders/${orderId}/refunds`, {
      headers: { 'Idempotency-Key': 'full', Authorization: `Bearer ${stack.config.adminApiToken}` },
      body: { reason: 'returned' },
    });
    expect(refund.status).toBe(201);
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('refunded');

    // the refund workflow takes it out (patch recommendations-after-refund): a re-run removes nothing
    await eventually(
      async () => ((await recommendations(a)).body.items.some((i: { sku: string; reason: string }) => i.sku === b && i.reason === 'also_bought') ? undefined : true),
      20_000,
      'the refund workflow forgot the order',
    );
    expect(await activities.forgetPurchaseForRecommendations({ orderId })).toEqual({ removed: false });
    // a late (replayed) add of the refunded order counts nothing either
    expect(await activities.recordPurchaseForRecommendations({ orderId })).toMatchObject({ counted: false });
    const after = await recommendations(a);
    expect(after.body.items.filter((i: { sku: string; reason: string }) => i.sku === b && i.reason === 'also_bought')).toEqual([]);

    await recompute();
    const rebuilt = await recommendations(a);
    expect(rebuilt.body.items.filter((i: { sku: string; reason: string }) => i.sku === b && i.reason === 'also_bought')).toEqual([]);
  });

  it('a recompute builds the scores from the paid orders (time-decayed) and swaps them in whole', async () => {
    const [a, b, c, d] = [await createProduct(stack.dbs), await createProduct(stack.dbs), await createProduct(stack.dbs), await createProduct(stack.dbs)];
    // a+b bought together three times recently, a+c three times two half-lives ago, a+d once recently
    for (let i = 0; i < 3; i++) await seedPaidOrder([a, b]);
    for (let i = 0; i < 3; i++) await seedPaidOrder([a, c], { daysAgo: 2 * stack.config.recommendations.halfLifeDays });
    await seedPaidOrder([a, d]);
    // never counted: a placed order that was not paid
    const unpaid = await createOrder(stack.dbs.order, { checkoutId: `chk_${randomBytes(6).toString('hex')}`, cartId: 'c', email: 'x@example.com', currency: 'USD', totalAmount: 0, lines: [{ sku: a, name: a, quantity: 1, unitPrice: 0, lineTotal: 0 }, { sku: d, name: d, quantity: 1, unitPrice: 0, lineTotal: 0 }] });
    expect(unpaid).toBeTruthy();

    // not counted incrementally: nothing for a yet but the fallback
    expect(skusOf((await recommendations(a)).body).slice(0, 3)).not.toEqual([b, c, d]);
    const previous = await store.current();
    const summary = await recompute({ pageSize: 3, pagesPerRun: 2 }, 'paged-continued-published');
    expect(summary).toMatchObject({ published: true });
    expect(summary.runs).toBeGreaterThan(1);
    const current = (await store.current()) as RecommendationBuild;
    expect(current.generation).toBe(summary.generation);
    expect(current.generation).not.toBe(previous?.generation);

    const res = await answerShowing(a, (body) => body.source === 'also_bought' && body.items.length === 3, '?limit=3');
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('also_bought');
    expect(res.body.items.map((i: { sku: string; score: number }) => [i.sku, i.score])).toEqual([
      [b, expect.closeTo(3, 1)],
      [d, expect.closeTo(1, 1)],
      [c, expect.closeTo(0.75, 1)],
    ]);
    // the replaced generation is gone (retireAfterSeconds 0), the published one is there
    const keys = await stack.redis.keys(`${prefix}{${previous?.generation ?? 'none'}:*`);
    expect(keys).toEqual([]);
  });

  it('leaves out inactive and out-of-stock products, and falls back to the category bestsellers for a sku without data', async () => {
    const category = `reco-cat-${randomBytes(3).toString('hex')}`;
    const [a, gone, sold, kept] = [await createProduct(stack.dbs, { category }), await createProduct(stack.dbs, { category }), await createProduct(stack.dbs, { category }), await createProduct(stack.dbs, { category })];
    const lonely = await createProduct(stack.dbs, { category });
    for (let i = 0; i < 3; i++) await seedPaidOrder([a, gone, sold, kept]);
    await seedPaidOrder([kept]);
    await recompute();

    const all = await answerShowing(a, (body) => body.source === 'also_bought' && body.items.length >= 3);
    expect(skusOf(all.body).slice(0, 3).sort()).toEqual([gone, sold, kept].sort());
    // (answered from the API's cache now: its poll drops the answer within 2 × RECOMMENDATIONS_CACHE_POLL_MS)
    await deactivateProduct(stack.dbs.catalog, gone);
    await setOnHand(stack.dbs.inventory, sold, 0);
    await eventually(async () => (skusOf((await recommendations(a)).body).join() === kept ? true : undefined), 5_000, 'the unsellable left out');

    const fallback = await answerShowing(lonely, (body) => body.source === 'bestsellers' && skusOf(body).length === 2);
    expect(fallback.status).toBe(200);
    expect(fallback.body.source).toBe('bestsellers');
    // the category's best sellers, best first (kept: 4 orders, a: 3), never the sku itself nor the unsellable
    expect(skusOf(fallback.body)).toEqual([kept, a]);
    expect(fallback.body.items.every((i: { reason: string }) => i.reason === 'bestseller')).toBe(true);
  });

  it('answers from the process\'s cache, yet a product deactivated, sold out, restocked or renamed, or a purchase counted, shows within 2 poll intervals', async () => {
    const pollMs = stack.config.recommendations.cache.pollMs;
    expect(pollMs).toBeGreaterThan(0);
    const [a, b, c] = [await createProduct(stack.dbs), await createProduct(stack.dbs), await createProduct(stack.dbs)];
    await activities.recordPurchaseForRecommendations({ orderId: await seedPaidOrder([a, b, c]) });
    // (nothing is kept before the process's first poll, nor an answer that read a row a poll then finds changed: let the polls start and see the new products)
    await recommendations(a, '?limit=2');
    await new Promise((r) => setTimeout(r, 3 * pollMs));
    const first = await recommendations(a, '?limit=2');
    expect(skusOf(first.body).sort()).toEqual([b, c].sort());
    // a hit: the same answer, without reading PostgreSQL (a row changed behind the catalog's back, version and updated_at untouched, is not seen)
    await stack.dbs.catalog.execute(sql`update catalog.products set name = 'changed in place' where sku = ${b}`);
    const hit = await recommendations(a, '?limit=2');
    expect(hit.body).toEqual(first.body);
    expect(hit.headers.get('etag')).toBe(first.headers.get('etag'));

    /** Milliseconds from a write until the answer shows it (the bound: 2 × pollMs, plus a request and a poll's query). */
    const shows = async (write: () => Promise<unknown>, check: (body: { items: { sku: string; name: string; available: number }[] }) => boolean) => {
      const started = Date.now();
      await write();
      await eventually(async () => (check((await recommendations(a, '?limit=2')).body) ? true : undefined), 10_000, 'the change shown');
      return Date.now() - started;
    };
    const took = [
      await shows(() => setOnHand(stack.dbs.inventory, b, 0), (body) => !skusOf(body).includes(b)),
      await shows(() => setOnHand(stack.dbs.inventory, b, 7), (body) => body.items.some((i) => i.sku === b && i.available === 7)),
      await shows(() => deactivateProduct(stack.dbs.catalog, c), (body) => !skusOf(body).includes(c)),
      await shows(() => upsertProduct(stack.dbs.catalog, { sku: c, name: 'back on sale', priceAmount: 1000, currency: 'USD' }), (body) => body.items.some((i) => i.sku === c && i.name === 'back on sale')),
    ];

    // a purchase moves the scores' version (Redis), read by the same polls
    const d = await createProduct(stack.dbs);
    await new Promise((r) => setTimeout(r, 3 * pollMs));
    expect(skusOf((await recommendations(a, '?limit=2')).body)).not.toContain(d);
    took.push(await shows(async () => {
      for (let i = 0; i < 3; i++) await activities.recordPurchaseForRecommendations({ orderId: await seedPaidOrder([a, d]) });
    }, (body) => skusOf(body)[0] === d));
    // generous for a loaded machine; the documented bound is 2 × pollMs (400 ms by default)
    for (const ms of took) expect(ms).toBeLessThan(2 * pollMs + 2_000);
  });

  it('answers with ETag and a short Cache-Control; If-None-Match gets a 304', async () => {
    const [a, b] = [await createProduct(stack.dbs), await createProduct(stack.dbs)];
    await activities.recordPurchaseForRecommendations({ orderId: await seedPaidOrder([a, b]) });
    const first = await answerShowing(a, (body) => skusOf(body).includes(b));
    expect(first.headers.get('cache-control')).toBe('public, max-age=30');
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    // (fetch adds `Cache-Control: no-cache` to a conditional request unless told otherwise)
    const again = await stack.http('GET', `/products/${a}/recommendations`, { headers: { 'If-None-Match': etag as string, 'Cache-Control': 'max-age=0' } });
    expect(again.status).toBe(304);
    const stale = await stack.http('GET', `/products/${a}/recommendations`, { headers: { 'If-None-Match': 'W/"other"', 'Cache-Control': 'max-age=0' } });
    expect(stale.status).toBe(200);
    // a new co-purchase changes the body, and so the ETag (once the API's cache polls: 2 × RECOMMENDATIONS_CACHE_POLL_MS)
    await activities.recordPurchaseForRecommendations({ orderId: await seedPaidOrder([a, b]) });
    const changed = await eventually(async () => {
      const res = await stack.http('GET', `/products/${a}/recommendations`, { headers: { 'If-None-Match': etag as string, 'Cache-Control': 'max-age=0' } });
      return res.status === 200 ? res : undefined;
    }, 5_000, 'the new body');
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it.each([
    ['limit=0', '?limit=0'],
    ['limit=51', '?limit=51'],
    ['limit=-1', '?limit=-1'],
    ['limit=1.5', '?limit=1.5'],
    ['limit=1e1', '?limit=1e1'],
    ['limit=abc', '?limit=abc'],
    ['limit twice', '?limit=1&limit=2'],
    ['an unknown parameter', '?foo=1'],
    ['junk bytes in the limit', '?limit=%ff%fe'],
  ])('a bad query (%s) is a 400 invalid_request', async (_name, query) => {
    const sku = await createProduct(stack.dbs);
    const res = await recommendations(sku, query);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it.each([
    ['spaces', 'bad%20sku'],
    ['a control character', 'a%01b'],
    ['too long', 'A'.repeat(65)],
  ])('a bad sku (%s) is a 400 invalid_request', async (_name, sku) => {
    const res = await recommendations(sku);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('junk bytes in the sku are a 4xx with a code, an unknown or inactive sku a 404 not_found', async () => {
    const junk = await recommendations('%ff%fe');
    expect(junk.status).toBeGreaterThanOrEqual(400);
    expect(junk.status).toBeLessThan(500);
    expect(typeof junk.body.error.code).toBe('string');
    const unknown = await recommendations('NO-SUCH-SKU-123');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    const inactive = await createProduct(stack.dbs);
    await deactivateProduct(stack.dbs.catalog, inactive);
    // (the API answers from its cache, which shows a deactivation within two polls: waited for, as above)
    await eventually(async () => ((await recommendations(inactive)).status === 404 ? true : undefined), 10_000, 'the inactive sku answered 404');
  });

  it('counting a page twice (a retried activity) changes nothing', async () => {
    const [a, b] = [await createProduct(stack.dbs), await createProduct(stack.dbs)];
    await seedPaidOrder([a, b]);
    const build = await activities.beginRecommendationBuild({ generation: `dup${randomBytes(3).toString('hex')}` });
    let after: string | undefined;
    let firstCounted = 0;
    for (;;) {
      const page = await activities.countPurchasesForRecommendations({ build, after, limit: 100 });
      firstCounted += page.counted;
      if (page.done) break;
      after = page.last;
    }
    const once = await store.alsoBoughtAll(build, a);
    const again = await activities.countPurchasesForRecommendations({ build, limit: 1_000 });
    expect(firstCounted).toBeGreaterThan(0);
    expect(again.counted).toBe(0);
    expect(await store.alsoBoughtAll(build, a)).toEqual(once);
    expect(once).toEqual([{ sku: b, raw: expect.any(Number) }]);
  });

  it('the recompute runs on a Schedule that every worker start creates (idempotently)', async () => {
    await ensureSchedules(stack.temporal, stack.config);
    await ensureSchedules(stack.temporal, stack.config);
    const description = await stack.temporal.schedule.getHandle(RECOMMENDATIONS_RECOMPUTE_SCHEDULE_ID).describe();
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'recommendationRecomputeWorkflow', workflowId: RECOMMENDATIONS_RECOMPUTE_SCHEDULE_ID });
    expect(description.policies.overlap).toBe('SKIP');
  });

  describe('a recompute whose worker dies mid-run', () => {
    it('is finished by a new worker from where it stopped, with the same scores as a clean run, and readers never see it half-built', async () => {
      // Its own stack without a worker: the restartable worker pauses 300 ms before each page's first attempt.
      const killStack = await startStack({ env: { DATABASE_URL: db.url, RECOMMENDATIONS_KEY_PREFIX: prefix, FAULT_PAUSE_BEFORE: 'countPurchasesForRecommendations', FAULT_PAUSE_MS: '300' } });
      const worker = await startRestartableWorker(killStack, { graceMs: 100 });
      try {
        const skus = await Promise.all(Array.from({ length: 6 }, () => createProduct(stack.dbs)));
        const pick = (i: number) => skus[i % skus.length] as string;
        for (let i = 0; i < 24; i++) await seedPaidOrder([pick(i), pick(i + 1 + (i % 3)), ...(i % 4 === 0 ? [pick(i + 5)] : [])]);
        const input = { pageSize: 4, pagesPerRun: 3, retireAfterSeconds: 0 };
        const run = async (id: string, midway?: () => Promise<void>) => {
          const handle = await killStack.temporal.workflow.start('recommendationRecomputeWorkflow', { taskQueue: killStack.config.temporal.taskQueue, workflowId: id, args: [input] });
          await midway?.();
          const summary = (await handle.result()) as RecommendationRecomputeSummary;
          const build = (await store.current()) as RecommendationBuild;
          expect(build.generation).toBe(summary.generation);
          const raw = await Promise.all(skus.map((s) => store.alsoBoughtAll(build, s)));
          return { summary, build, raw };
        };
        /** Each sku's partners and scores, decayed to one moment (the two generations have different epochs). */
        const now = Date.now();
        const scoresOf = (r: Awaited<ReturnType<typeof run>>) =>
          r.raw.map((perSku) => perSku.map((x) => ({ sku: x.sku, score: decayedScore(r.build, x.raw, now) })).sort((p, q) => p.sku.localeCompare(q.sku)));

        const clean = await run(`reco-clean-${randomBytes(3).toString('hex')}`);
        const published = await store.current();
        const killedId = `reco-killed-${randomBytes(3).toString('hex')}`;
        let pagesAtKill = 0;
        const killed = await run(killedId, async () => {
          const handle = killStack.temporal.workflow.getHandle(killedId);
          pagesAtKill = await eventually(async () => {
            const s = await handle.query(recommendationRecomputeStatusQuery);
            return s.pages >= 4 ? s.pages : undefined;
          }, 30_000, 'four pages counted');
          await worker.restart();
          // while the new generation is incomplete, readers still get the published one
          expect(await store.current()).toEqual(published);
        });

        expect(worker.restarts).toBe(1);
        expect(pagesAtKill).toBeLessThan(clean.summary.pages);
        expect(killed.summary).toMatchObject({ pages: clean.summary.pages, orders: clean.summary.orders, runs: clean.summary.runs, published: true });
        expect(killed.summary.generation).not.toBe(clean.summary.generation);
        expect(clean.summary.runs).toBeGreaterThan(1);
        const cleanScores = scoresOf(clean);
        const killedScores = scoresOf(killed);
        killedScores.forEach((perSku, i) => {
          const expected = cleanScores[i] ?? [];
          expect(perSku.map((x) => x.sku)).toEqual(expected.map((x) => x.sku));
          perSku.forEach((x, j) => expect(x.score).toBeCloseTo(expected[j]?.score ?? NaN, 9));
        });
        expect(killedScores.flat().length).toBeGreaterThan(0);
      } finally {
        await worker.close();
        await killStack.close();
      }
    });
  });
});
