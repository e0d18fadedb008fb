import { eq, gte, inArray, lte, sql, type SQL } from 'drizzle-orm';
import { products } from '../schema/catalog';

/** What a catalog search narrows by; listing, facets and relevance share it. */
export interface ProductFilters {
  q?: string;
  category?: string;
  minPrice?: number;
  maxPrice?: number;
  /** Only these skus (the in-stock filter is applied by the caller, from inventory). */
  skus?: string[];
}

/** The full-text document of a product (name, description, category). */
export const searchVector = sql`to_tsvector('english', ${products.name} || ' ' || ${products.description} || ' ' || coalesce(${products.category}, ''))`;

/** The WHERE conditions of a search over active products; a facet omits its own filter. */
export function filterConditions(query: ProductFilters, omit: { category?: boolean; price?: boolean } = {}): SQL[] {
  const conditions: SQL[] = [eq(products.active, true)];
  if (query.q) conditions.push(sql`${searchVector} @@ plainto_tsquery('english', ${query.q})`);
  if (query.category && !omit.category) conditions.push(eq(products.category, query.category));
  if (query.minPrice !== undefined && !omit.price) conditions.push(gte(products.priceAmount, query.minPrice));
  if (query.maxPrice !== undefined && !omit.price) conditions.push(lte(products.priceAmount, query.maxPrice));
  if (query.skus) conditions.push(query.skus.length ? inArray(products.sku, query.skus) : sql`false`);
  return conditions;
}
