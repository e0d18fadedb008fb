import { and, asc, desc, eq, gt, gte, ilike, inArray, lte, or, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { products, type Product } from '../schema/catalog';

export type ProductSort = 'relevance' | 'price_asc' | 'price_desc' | 'newest' | 'name';

export interface ProductQuery {
  q?: string;
  category?: string;
  minPrice?: number;
  maxPrice?: number;
  /** Only these skus (the in-stock filter is applied by the caller, from inventory). */
  skus?: string[];
  sort: ProductSort;
  limit: number;
  cursor?: ProductCursor;
}

/** Keyset position: the sort key of the last item and its sku (the tiebreak). */
export interface ProductCursor {
  key: string | number;
  sku: string;
}

const searchVector = sql`to_tsvector('english', ${products.name} || ' ' || ${products.description} || ' ' || coalesce(${products.category}, ''))`;

function sortKey(sort: ProductSort, q: string | undefined) {
  switch (sort) {
    case 'price_asc':
    case 'price_desc':
      return { column: sql`${products.priceAmount}`, descending: sort === 'price_desc', of: (p: Product) => p.priceAmount };
    case 'newest':
      return { column: sql`extract(epoch from ${products.createdAt})::float8`, descending: true, of: (p: Product) => p.createdAt.getTime() / 1000 };
    case 'relevance':
      if (q) {
        // Relevance is computed, so its cursor position is the rank itself.
        return { column: sql`ts_rank(${searchVector}, plainto_tsquery('english', ${q}))::float8`, descending: true, of: undefined };
      }
      return { column: sql`${products.name}`, descending: false, of: (p: Product) => p.name };
    case 'name':
      return { column: sql`${products.name}`, descending: false, of: (p: Product) => p.name };
  }
}

/** One page of active products, keyset-paginated; one query. */
export async function listProducts(db: DbOrTx, query: ProductQuery): Promise<{ items: Product[]; next?: ProductCursor }> {
  const conditions: SQL[] = [eq(products.active, true)];
  if (query.q) conditions.push(sql`${searchVector} @@ plainto_tsquery('english', ${query.q})`);
  if (query.category) conditions.push(eq(products.category, query.category));
  if (query.minPrice !== undefined) conditions.push(gte(products.priceAmount, query.minPrice));
  if (query.maxPrice !== undefined) conditions.push(lte(products.priceAmount, query.maxPrice));
  if (query.skus) conditions.push(query.skus.length ? inArray(products.sku, query.skus) : sql`false`);

  const key = sortKey(query.sort, query.q);
  if (query.cursor) {
    const c = query.cursor;
    const beyond = key.descending ? sql`${key.column} < ${c.key}` : sql`${key.column} > ${c.key}`;
    conditions.push(or(beyond, and(sql`${key.column} = ${c.key}`, gt(products.sku, c.sku))) as SQL);
  }
  const rows = await db
    .select({ product: products, key: sql<string | number>`${key.column}` })
    .from(products)
    .where(and(...conditions))
    .orderBy(key.descending ? desc(key.column) : asc(key.column), asc(products.sku))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  const next = rows.length > query.limit && last ? { key: key.of ? key.of(last.product) : Number(last.key), sku: last.product.sku } : undefined;
  return { items: page.map((r) => r.product), next };
}

export async function getProduct(db: DbOrTx, sku: string): Promise<Product | undefined> {
  const [row] = await db.select().from(products).where(eq(products.sku, sku));
  return row;
}

export async function getProducts(db: DbOrTx, skus: string[]): Promise<Map<string, Product>> {
  if (skus.length === 0) return new Map();
  const rows = await db.select().from(products).where(inArray(products.sku, skus));
  return new Map(rows.map((p) => [p.sku, p]));
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

export interface ProductInput {
  sku: string;
  name: string;
  description?: string;
  category?: string | null;
  attributes?: Record<string, string | number | boolean>;
  priceAmount: number;
  currency: string;
  active?: boolean;
}

/** Creates or updates a product, bumping its version on every change. */
export async function upsertProduct(db: DbOrTx, p: ProductInput): Promise<Product> {
  const values = {
    sku: p.sku,
    name: p.name,
    description: p.description ?? '',
    category: p.category ?? null,
    attributes: p.attributes ?? {},
    priceAmount: p.priceAmount,
    currency: p.currency,
    active: p.active ?? true,
  };
  const [row] = await db
    .insert(products)
    .values(values)
    .onConflictDoUpdate({
      target: products.sku,
      set: { ...values, version: sql`${products.version} + 1`, updatedAt: sql`now()` },
    })
    .returning();
  if (!row) throw new Error(`upsert of ${p.sku} returned nothing`);
  return row;
}

// ---- pricing -----------------------------------------------------------------------

export interface LineRef {
  sku: string;
  quantity: number;
}

export interface PricedLine {
  sku: string;
  name: string;
  quantity: number;
  unitPrice: { amount: number; currency: string };
  lineTotal: { amount: number; currency: string };
}

export interface PricedLines {
  lines: PricedLine[];
  total: { amount: number; currency: string };
  /** Skus no longer sold (unknown, inactive, or priced in another currency). */
  unavailable: string[];
}

/**
 * Prices lines from the catalog as it is now (carts store no prices). Integer minor
 * units throughout; a line of a product no longer sold is left out and reported.
 */
export async function priceLines(db: DbOrTx, lines: LineRef[], currency: string): Promise<PricedLines> {
  const catalog = await getProducts(db, [...new Set(lines.map((l) => l.sku))]);
  const priced: PricedLine[] = [];
  const unavailable: string[] = [];
  for (const line of lines) {
    const p = catalog.get(line.sku);
    if (!p || !p.active || p.currency !== currency) {
      unavailable.push(line.sku);
      continue;
    }
    priced.push({
      sku: p.sku,
      name: p.name,
      quantity: line.quantity,
      unitPrice: { amount: p.priceAmount, currency },
      lineTotal: { amount: p.priceAmount * line.quantity, currency },
    });
  }
  const amount = priced.reduce((sum, l) => sum + l.lineTotal.amount, 0);
  return { lines: priced, total: { amount, currency }, unavailable };
}
