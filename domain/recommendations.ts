/**
 * "Also bought" scoring, shared by the recompute, the incremental updates and the read path.
 *
 * Time decay without rewriting old scores: a purchase at time t adds 2^((t − epoch)/halfLife)
 * to a generation's raw score, and a read multiplies by 2^(−(now − epoch)/halfLife). The
 * product is 2^(−(now − t)/halfLife) — every purchase decayed to now — while the stored
 * values never change with time, so the order of a sorted set is the order by decayed score
 * at any moment. Each recompute starts a generation with a fresh epoch, which keeps the
 * exponents small.
 */

const DAY_MS = 86_400_000;

/** One generation of scores: its id (part of every key), the epoch its weights are relative to, and the rules it was built with. */
export interface RecommendationBuild {
  generation: string;
  epochMs: number;
  halfLifeDays: number;
  /** Orders created before this are not counted by the recompute (RECOMMENDATIONS_WINDOW_DAYS). */
  sinceMs: number;
  /**
   * Every count into this generation also wrote its precomputed answers (the `:answer` keys):
   * readers may serve from them. Generations begun before answers existed lack it and are read
   * from the sorted sets and the catalog, until the next recompute replaces them.
   */
  answers?: true;
}

/** One paid order as the recommendation context sees it: when, and which skus in which categories. */
export interface Purchase {
  orderId: string;
  atMs: number;
  lines: { sku: string; category: string | null }[];
}

/** What one purchase adds to a generation: the raw weight of the order at the build's epoch. */
export function purchaseWeight(build: Pick<RecommendationBuild, 'epochMs' | 'halfLifeDays'>, atMs: number): number {
  return 2 ** ((atMs - build.epochMs) / (build.halfLifeDays * DAY_MS));
}

/** A raw score of the generation decayed to `nowMs` (orders counted, each weighted by its age). */
export function decayedScore(build: Pick<RecommendationBuild, 'epochMs' | 'halfLifeDays'>, raw: number, nowMs: number): number {
  return raw * 2 ** (-(nowMs - build.epochMs) / (build.halfLifeDays * DAY_MS));
}

/** Scores are shown decayed to the start of the hour, so a body (and its ETag) stays the same for an hour unless the data changes. */
export function scoreClock(nowMs: number): number {
  return Math.floor(nowMs / 3_600_000) * 3_600_000;
}

/** The distinct skus of a purchase, and the partners of each (every other sku of the same order). */
export function coPurchases(purchase: Purchase): { sku: string; partners: string[] }[] {
  const skus = [...new Set(purchase.lines.map((l) => l.sku))].sort();
  if (skus.length < 2) return [];
  return skus.map((sku) => ({ sku, partners: skus.filter((s) => s !== sku) }));
}

/** The purchase's skus grouped by category (null: uncategorised), for the category bestsellers. */
export function skusByCategory(purchase: Purchase): Map<string | null, string[]> {
  const groups = new Map<string | null, Set<string>>();
  for (const { sku, category } of purchase.lines) {
    const group = groups.get(category) ?? new Set<string>();
    group.add(sku);
    groups.set(category, group);
  }
  return new Map([...groups].map(([c, s]) => [c, [...s].sort()]));
}
