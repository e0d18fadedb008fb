import type { Databases } from '../db/client';
import { getProduct, getProducts } from '../db/stores/catalog';
import { stockLevels, type StockLevel } from '../db/stores/inventory';
import type { Product } from '../db/schema/catalog';
import type { RecommendationStore, ScoredSku, ServingState } from '../db/stores/recommendations';
import { decayedScore, scoreClock, type RecommendationBuild } from '../domain/recommendations';
import type { Money } from '../domain/money';
import { rejected, type Rejected } from './result';

export interface RecommendedProduct {
  sku: string;
  name: string;
  price: Money;
  available: number;
  /** Decayed weight: orders that bought both (also_bought), or orders of it in the category (bestseller). */
  score: number;
  reason: 'also_bought' | 'bestseller';
}

export interface Recommendations {
  kind: 'recommendations';
  items: RecommendedProduct[];
  /** `also_bought` when co-purchases were found for the sku; `bestsellers` when only the fallback answered. */
  source: 'also_bought' | 'bestsellers' | 'none';
}

/** Where product rows and stock levels come from: PostgreSQL, or a cache of them (recommendation-answers.ts). */
export interface CatalogRows {
  products(skus: string[]): Promise<Map<string, Product>>;
  levels(skus: string[]): Promise<Map<string, StockLevel>>;
}

export const catalogRowsOf = (dbs: Databases): CatalogRows => ({
  products: (skus) => (skus.length === 1 ? getProduct(dbs.catalog, skus[0] as string).then((p) => new Map(p ? [[p.sku, p]] : [])) : getProducts(dbs.catalog, skus)),
  levels: (skus) => stockLevels(dbs.inventory, skus),
});

/** Candidates read per requested item: some will be inactive or out of stock. */
const OVERFETCH = 2;
const round = (x: number) => Math.round(x * 10_000) / 10_000;

/**
 * "Also bought" for one product: the precomputed co-purchase scores first, then the best
 * sellers of its category (all categories when it has none) to fill up — the whole answer
 * when the sku has no co-purchase data. Inactive and out-of-stock products are left out,
 * read for every candidate in one catalog and one inventory query.
 */
export async function recommendProducts(
  deps: { dbs: Databases; recommendations: RecommendationStore; now?: () => number },
  sku: string,
  limit: number,
): Promise<Recommendations | Rejected> {
  return (await computeRecommendations(deps, sku, limit)).answer;
}

/**
 * The answer and every sku whose catalog or stock row it read (the sku itself included): an
 * answer cache drops it when one of them changes. `state`: the generation (being) read by the
 * caller; `guess`: the generation it probably is: its sorted sets are read in the same round
 * trip, and read again only when the guess was wrong.
 */
export async function computeRecommendations(
  deps: { dbs: Databases; recommendations: RecommendationStore; now?: () => number },
  sku: string,
  limit: number,
  state?: ServingState | Promise<ServingState>,
  rows: CatalogRows = catalogRowsOf(deps.dbs),
  guess?: RecommendationBuild | null,
): Promise<{ answer: Recommendations | Rejected; consulted: string[] }> {
  const consulted = [sku];
  const want = limit * OVERFETCH;
  const scores = (build: RecommendationBuild, category: string | null) =>
    Promise.all([deps.recommendations.alsoBought(build, sku, want), deps.recommendations.bestsellers(build, category ?? 'all', want)]);
  const reading = state ? Promise.resolve(state).then((s) => s.build) : deps.recommendations.current();
  reading.catch(() => undefined);
  const product = (await rows.products([sku])).get(sku);
  const guessed = guess && product?.active ? scores(guess, product.category) : undefined;
  guessed?.catch(() => undefined);
  const build = await reading;
  if (!product || !product.active) return { answer: rejected('not_found', 'no such product'), consulted };
  if (!build) return { answer: { kind: 'recommendations', items: [], source: 'none' }, consulted };

  const [also, best] = guessed && guess?.generation === build.generation ? await guessed : await scores(build, product.category);
  const seen = new Set([sku]);
  const tagged = (list: ScoredSku[], reason: RecommendedProduct['reason']) =>
    list.filter((c) => !seen.has(c.sku) && seen.add(c.sku)).map((c) => ({ ...c, reason }));
  const partners = tagged(also, 'also_bought');
  const fillers = tagged(best, 'bestseller');
  const at = scoreClock((deps.now ?? Date.now)());
  const items: RecommendedProduct[] = [];
  /** Keeps the sellable candidates (active, in stock), read in one catalog and one inventory query. */
  const take = async (candidates: (ScoredSku & { reason: RecommendedProduct['reason'] })[]) => {
    if (candidates.length === 0 || items.length >= limit) return;
    const skus = candidates.map((c) => c.sku);
    consulted.push(...skus);
    const [products, levels] = await Promise.all([rows.products(skus), rows.levels(skus)]);
    for (const c of candidates) {
      const p = products.get(c.sku);
      const available = levels.get(c.sku)?.available ?? 0;
      if (!p || !p.active || available <= 0) continue;
      items.push({ sku: p.sku, name: p.name, price: { amount: p.priceAmount, currency: p.currency }, available, score: round(decayedScore(build, c.raw, at)), reason: c.reason });
      if (items.length === limit) return;
    }
  };
  // A sku with plenty of partners is answered from them alone; otherwise the bestsellers are read in the same queries.
  if (partners.length >= want) {
    await take(partners);
    await take(fillers);
  } else {
    await take([...partners, ...fillers]);
  }
  const source = items.some((i) => i.reason === 'also_bought') ? 'also_bought' : items.length > 0 ? 'bestsellers' : 'none';
  return { answer: { kind: 'recommendations', items, source }, consulted };
}
