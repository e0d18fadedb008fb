import { ApplicationFailure } from '@temporalio/activity';
import { getProducts } from '../db/stores/catalog';
import { purchasedOrder, purchasedOrdersPage, PURCHASED_STATUSES, type PurchasedOrder } from '../db/stores/order-purchases';
import type { AnswerOwner, StoredAnswer } from '../db/stores/recommendations';
import type { Purchase, RecommendationBuild } from '../domain/recommendations';
import type { ActivityDeps } from './deps';

const DAY_MS = 86_400_000;
/** Order statuses whose sale no longer stands: their pairs are taken out. */
const UNDONE = ['refunded', 'cancelled'];

/**
 * The recommendation context's activities. Orders are read through the order context's
 * read functions (db/stores/order-purchases.ts) and categories through the catalog's; the
 * scores are written only through the recommendation store (Redis).
 */
export function recommendationActivities({ dbs, recommendations: store, config }: Pick<ActivityDeps, 'dbs' | 'recommendations' | 'config'>) {
  const settings = config.recommendations;
  const newBuild = (generation: string, nowMs: number): RecommendationBuild => ({
    generation,
    epochMs: nowMs,
    halfLifeDays: settings.halfLifeDays,
    sinceMs: nowMs - settings.windowDays * DAY_MS,
    answers: true,
  });

  /** Orders as purchases: the catalog's category of each sku, read in one query. */
  const toPurchases = async (orders: PurchasedOrder[]): Promise<Purchase[]> => {
    const products = await getProducts(dbs.catalog, [...new Set(orders.flatMap((o) => o.skus))]);
    return orders.map((o) => ({
      orderId: o.orderId,
      atMs: o.createdAt.getTime(),
      lines: o.skus.map((sku) => ({ sku, category: products.get(sku)?.category ?? null })),
    }));
  };

  /**
   * Rewrites the precomputed answers the purchases' counting changed (each sku's partners, its
   * categories' bestsellers and every category's), with names and prices joined from the catalog
   * in one query, then moves the generations' version so API processes drop what they cached.
   * Run after every count or refund, also one that counted nothing (a retry must not leave an
   * answer behind its set).
   */
  const rebuildAnswers = async (builds: RecommendationBuild[], purchases: Purchase[]): Promise<void> => {
    const owners: AnswerOwner[] = [{ category: 'all' }];
    for (const sku of new Set(purchases.flatMap((p) => p.lines.map((l) => l.sku)))) owners.push({ sku });
    for (const category of new Set(purchases.flatMap((p) => p.lines.map((l) => l.category)))) if (category !== null) owners.push({ category });
    for (const build of builds) {
      const sources = await store.answerSources(build, owners);
      const products = await getProducts(dbs.catalog, [...new Set(sources.flatMap((s) => s.scored.map((c) => c.sku)))]);
      const answers = sources.map((source) => {
        const entries: StoredAnswer['entries'] = [];
        for (const { sku, raw } of source.scored) {
          const p = products.get(sku);
          // (a sku the catalog does not know is never served: left out)
          if (p) entries.push([sku, raw, p.name, p.priceAmount, p.currency, p.version]);
        }
        return { source, answer: { entries } };
      });
      await store.storeAnswers(build, answers);
    }
    await store.markChanged(builds, owners);
  };

  return {
    /**
     * After an order is paid: counts its pairs into the published generation and into the one
     * being built, once per order (a retry or a replay adds nothing). An order that is not (or
     * no longer) a standing sale is left out.
     */
    async recordPurchaseForRecommendations(req: { orderId: string }): Promise<{ counted: boolean; generations: number }> {
      const order = await purchasedOrder(dbs.order, req.orderId);
      if (!order) throw ApplicationFailure.nonRetryable(`no order ${req.orderId}`, 'not_found');
      if (!PURCHASED_STATUSES.includes(order.status as (typeof PURCHASED_STATUSES)[number])) return { counted: false, generations: 0 };
      const [purchase] = await toPurchases([order]);
      let builds = await store.liveBuilds();
      if (builds.length === 0) builds = [await store.currentOrStart(newBuild(`i${Date.now().toString(36)}`, Date.now()))];
      let added = 0;
      for (const build of builds) added += await store.addPurchases(build, [purchase as Purchase]);
      await rebuildAnswers(builds, [purchase as Purchase]);
      return { counted: added > 0, generations: builds.length };
    },

    /**
     * After a full refund (or a cancel) of a paid order: takes its pairs out of the published
     * generation and the one being built, once, and keeps them out. An order whose sale still
     * stands (a partial refund) is left as it is; the recompute drops its refunded lines.
     */
    async forgetPurchaseForRecommendations(req: { orderId: string }): Promise<{ removed: boolean }> {
      const order = await purchasedOrder(dbs.order, req.orderId);
      if (!order) throw ApplicationFailure.nonRetryable(`no order ${req.orderId}`, 'not_found');
      if (!UNDONE.includes(order.status)) return { removed: false };
      const [purchase] = await toPurchases([order]);
      let removed = 0;
      const builds = await store.liveBuilds();
      for (const build of builds) removed += await store.removePurchase(build, purchase as Purchase);
      await rebuildAnswers(builds, [purchase as Purchase]);
      return { removed: removed > 0 };
    },

    /** Starts (or, on a retry, finds) the generation a recompute builds; from now on purchases also count into it. */
    async beginRecommendationBuild(req: { generation: string }): Promise<RecommendationBuild> {
      return store.beginBuild(newBuild(req.generation, Date.now()));
    },

    /** One keyset page of standing sales counted into the generation being built (idempotent per order). */
    async countPurchasesForRecommendations(req: { build: RecommendationBuild; after?: string; limit: number }): Promise<{ orders: number; counted: number; last?: string; done: boolean }> {
      const page = await purchasedOrdersPage(dbs.order, { after: req.after, limit: req.limit, since: new Date(req.build.sinceMs) });
      const purchases = await toPurchases(page.orders);
      const counted = await store.addPurchases(req.build, purchases);
      // The answers of every sku and category this page touched; the last page that touches one leaves it final.
      await rebuildAnswers([req.build], purchases);
      return { orders: page.orders.length, counted, last: page.last, done: page.done };
    },

    /** Swaps the finished generation in (one pointer write). */
    async publishRecommendationBuild(build: RecommendationBuild): Promise<void> {
      await store.publish(build);
    },

    /** Deletes generations that are neither published nor being built. */
    async dropStaleRecommendationGenerations(): Promise<{ generations: string[]; keys: number }> {
      return store.dropStaleGenerations();
    },
  };
}
