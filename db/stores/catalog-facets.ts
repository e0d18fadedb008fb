import { and, asc, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { products } from '../schema/catalog';
import { filterConditions, type ProductFilters } from './catalog-filters';

/** Price facet buckets in minor units (the same as the search index's). */
export const PRICE_FACET_BUCKETS: { from?: number; to?: number }[] = [
  { to: 1_000 },
  { from: 1_000, to: 2_500 },
  { from: 2_500, to: 5_000 },
  { from: 5_000, to: 10_000 },
  { from: 10_000 },
];

/**
 * Category counts and price buckets for a search, each counted without its own filter (so
 * picking a category still shows the others), as the search index computes them.
 */
export async function productFacets(db: DbOrTx, query: ProductFilters) {
  const buckets = PRICE_FACET_BUCKETS.map((b, i) => sql`count(*) filter (where ${b.from === undefined ? sql`true` : sql`${products.priceAmount} >= ${b.from}`} and ${b.to === undefined ? sql`true` : sql`${products.priceAmount} < ${b.to}`})::int as ${sql.raw(`b${i}`)}`);
  const [categories, [prices]] = await Promise.all([
    db
      .select({ value: products.category, count: sql<number>`count(*)::int` })
      .from(products)
      .where(and(...filterConditions(query, { category: true }), sql`${products.category} is not null`))
      .groupBy(products.category)
      .orderBy(asc(products.category)),
    db.execute<Record<string, number>>(sql`select ${sql.join(buckets, sql`, `)} from ${products} where ${and(...filterConditions(query, { price: true }))}`).then((r) => r.rows),
  ]);
  return {
    category: categories.filter((c): c is { value: string; count: number } => c.value !== null),
    price: PRICE_FACET_BUCKETS.map((b, i) => ({ ...b, count: Number(prices?.[`b${i}`] ?? 0) })),
  };
}
