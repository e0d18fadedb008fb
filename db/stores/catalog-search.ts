import { and, asc, desc, eq, ilike, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { products, type Product } from '../schema/catalog';
import { afterCursor, sortKey, type ProductCursor, type ProductSort } from './catalog-cursors';
import { filterConditions, type ProductFilters } from './catalog-filters';

export interface ProductQuery extends ProductFilters {
  sort: ProductSort;
  limit: number;
  cursor?: ProductCursor;
}

/** One page of active products, keyset-paginated; one query. */
export async function listProducts(db: DbOrTx, query: ProductQuery): Promise<{ items: Product[]; next?: ProductCursor }> {
  const conditions = filterConditions(query);
  const key = sortKey(query.sort, query.q);
  if (query.cursor) conditions.push(afterCursor(key, query.cursor));
  const rows = await db
    .select({ product: products, key: sql<string>`${key.text}` })
    .from(products)
    .where(and(...conditions))
    .orderBy(key.descending ? desc(key.column) : asc(key.column), asc(products.sku))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  const next = rows.length > query.limit && last ? { key: last.key, sku: last.product.sku } : undefined;
  return { items: page.map((r) => r.product), next };
}

/** Name-prefix autocomplete over active products. */
export async function suggestProducts(db: DbOrTx, prefix: string, limit = 10): Promise<{ sku: string; name: string }[]> {
  const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return db
    .select({ sku: products.sku, name: products.name })
    .from(products)
    .where(and(eq(products.active, true), or(ilike(products.name, pattern), ilike(products.name, `% ${pattern}`))))
    .orderBy(asc(products.name))
    .limit(limit);
}
