import { and, asc, desc, eq, gt, gte, ilike, inArray, lte, or, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { products, searchOutbox, type Product } from '../schema/catalog';

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

/**
 * Keyset position: the sort key of the last item, as PostgreSQL printed it (so it compares
 * exactly, microseconds and float ranks included), and its sku (the tiebreak).
 */
export interface ProductCursor {
  key: string;
  sku: string;
}

const searchVector = sql`to_tsvector('english', ${products.name} || ' ' || ${products.description} || ' ' || coalesce(${products.category}, ''))`;

interface SortKey {
  column: SQL;
  descending: boolean;
  /** The key as text, exact enough to compare with again. */
  text: SQL;
  /** A cursor key back as a value of the column's type. */
  param(key: string): SQL;
  /** Whether a cursor key (from a client) is one this sort printed; a bad one must not reach SQL. */
  accepts(key: string): boolean;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;

function isExactTimestamp(key: string): boolean {
  const m = TIMESTAMP.exec(key);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return y >= 1 && t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s;
}

const byName: SortKey = {
  column: sql`${products.name}`,
  descending: false,
  text: sql`${products.name}`,
  param: (key) => sql`${key}`,
  accepts: (key) => !key.includes('\u0000'),
};

function sortKey(sort: ProductSort, q: string | undefined): SortKey {
  switch (sort) {
    case 'price_asc':
    case 'price_desc':
      return {
        column: sql`${products.priceAmount}`,
        descending: sort === 'price_desc',
        text: sql`${products.priceAmount}::text`,
        param: (key) => sql`${key}::bigint`,
        accepts: (key) => /^\d{1,18}$/.test(key),
      };
    case 'newest':
      return {
        column: sql`${products.createdAt}`,
        descending: true,
        text: sql`to_char(${products.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
        param: (key) => sql`${key}::timestamptz`,
        accepts: isExactTimestamp,
      };
    case 'relevance': {
      if (!q) return byName;
      // float4 prints its shortest exact form, so the rank survives the round trip.
      const rank = sql`ts_rank(${searchVector}, plainto_tsquery('english', ${q}))`;
      return {
        column: rank,
        descending: true,
        text: sql`${rank}::text`,
        param: (key) => sql`${key}::real`,
        accepts: (key) => /^\d+(\.\d+)?(e[+-]?\d+)?$/i.test(key),
      };
    }
    case 'name':
      return byName;
  }
}

/** Whether a cursor can be used with this query (it came from the same sort). */
export function isUsableCursor(query: Pick<ProductQuery, 'sort' | 'q'>, cursor: ProductCursor): boolean {
  return sortKey(query.sort, query.q).accepts(cursor.key) && cursor.sku.length > 0 && !cursor.sku.includes('\u0000');
}

/** One page of active products, keyset-paginated; one query. */
type Filters = Pick<ProductQuery, 'q' | 'category' | 'minPrice' | 'maxPrice' | 'skus'>;

function filterConditions(query: Filters, omit: { category?: boolean; price?: boolean } = {}): SQL[] {
  const conditions: SQL[] = [eq(products.active, true)];
  if (query.q) conditions.push(sql`${searchVector} @@ plainto_tsquery('english', ${query.q})`);
  if (query.category && !omit.category) conditions.push(eq(products.category, query.category));
  if (query.minPrice !== undefined && !omit.price) conditions.push(gte(products.priceAmount, query.minPrice));
  if (query.maxPrice !== undefined && !omit.price) conditions.push(lte(products.priceAmount, query.maxPrice));
  if (query.skus) conditions.push(query.skus.length ? inArray(products.sku, query.skus) : sql`false`);
  return conditions;
}

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
export async function productFacets(db: DbOrTx, query: Filters) {
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

export async function listProducts(db: DbOrTx, query: ProductQuery): Promise<{ items: Product[]; next?: ProductCursor }> {
  const conditions = filterConditions(query);

  const key = sortKey(query.sort, query.q);
  if (query.cursor) {
    const c = query.cursor;
    if (!key.accepts(c.key)) throw new Error('listProducts: a cursor of another sort (check it with isUsableCursor)');
    const at = key.param(c.key);
    const beyond = key.descending ? sql`${key.column} < ${at}` : sql`${key.column} > ${at}`;
    conditions.push(or(beyond, and(sql`${key.column} = ${at}`, gt(products.sku, c.sku))) as SQL);
  }
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

/**
 * The two hottest catalog reads (every cart write and read) as prepared statements: built
 * once per handle, parsed once per connection.
 */
const prepared = new WeakMap<DbOrTx, ReturnType<typeof prepare>>();
function prepare(db: DbOrTx) {
  return {
    one: db.select().from(products).where(eq(products.sku, sql.placeholder('sku'))).prepare('catalog_product'),
    many: db
      .select()
      .from(products)
      .where(sql`${products.sku} = any(${sql.placeholder('skus')}::text[])`)
      .prepare('catalog_products'),
  };
}
function statements(db: DbOrTx) {
  let s = prepared.get(db);
  if (!s) {
    s = prepare(db);
    prepared.set(db, s);
  }
  return s;
}

export async function getProduct(db: DbOrTx, sku: string): Promise<Product | undefined> {
  const [row] = await statements(db).one.execute({ sku });
  return row;
}

export async function getProducts(db: DbOrTx, skus: string[]): Promise<Map<string, Product>> {
  if (skus.length === 0) return new Map();
  const rows = await statements(db).many.execute({ skus });
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

/**
 * Creates or updates a product. Its version (and updatedAt) move only when something
 * changed, so writing the same product twice is a no-op. A change and its search-outbox
 * row commit in one transaction: the index can lag, never miss a version.
 */
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
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(products)
      .values(values)
      .onConflictDoUpdate({
        target: products.sku,
        set: {
          name: sql`excluded.name`,
          description: sql`excluded.description`,
          category: sql`excluded.category`,
          attributes: sql`excluded.attributes`,
          priceAmount: sql`excluded.price_amount`,
          currency: sql`excluded.currency`,
          active: sql`excluded.active`,
          version: sql`${products.version} + 1`,
          updatedAt: sql`now()`,
        },
        setWhere: sql`(${products.name}, ${products.description}, ${products.category}, ${products.attributes}, ${products.priceAmount}, ${products.currency}, ${products.active})
          is distinct from (excluded.name, excluded.description, excluded.category, excluded.attributes, excluded.price_amount, excluded.currency, excluded.active)`,
      })
      .returning();
    if (row) {
      await tx.insert(searchOutbox).values({ sku: row.sku, version: row.version });
      return row;
    }
    const current = await getProduct(tx, p.sku);
    if (!current) throw new Error(`upsert of ${p.sku} returned nothing`);
    return current;
  });
}

/** Takes a product off sale (not listed, not sold); undefined when there is no such sku. */
export async function deactivateProduct(db: DbOrTx, sku: string): Promise<Product | undefined> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(products)
      .set({ active: false, version: sql`${products.version} + 1`, updatedAt: sql`now()` })
      .where(and(eq(products.sku, sku), eq(products.active, true)))
      .returning();
    if (row) {
      await tx.insert(searchOutbox).values({ sku: row.sku, version: row.version });
      return row;
    }
    return getProduct(tx, sku);
  });
}

// ---- search outbox -----------------------------------------------------------------

export interface OutboxBatch {
  /** Highest outbox id in the batch: everything up to it is covered once the batch is indexed. */
  upTo: number;
  skus: string[];
}

/** The oldest pending changes, at most `limit` rows, as the distinct skus they touch. */
export async function pendingSearchChanges(db: DbOrTx, limit: number): Promise<OutboxBatch | undefined> {
  const rows = await db.select({ id: searchOutbox.id, sku: searchOutbox.sku }).from(searchOutbox).orderBy(asc(searchOutbox.id)).limit(limit);
  const last = rows[rows.length - 1];
  if (!last) return undefined;
  return { upTo: last.id, skus: [...new Set(rows.map((r) => r.sku))] };
}

/**
 * Removes drained outbox rows of these skus up to `upTo`. Rows written after the batch was
 * read have higher ids and stay, so a change that raced the drain is drained next time.
 */
export async function markSearchChangesIndexed(db: DbOrTx, batch: OutboxBatch): Promise<number> {
  const rows = await db
    .delete(searchOutbox)
    .where(and(lte(searchOutbox.id, batch.upTo), inArray(searchOutbox.sku, batch.skus)))
    .returning({ id: searchOutbox.id });
  return rows.length;
}

export async function searchOutboxDepth(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(searchOutbox);
  return row?.n ?? 0;
}

/** Every sku in sku order, a page at a time (reindex, audits). */
export async function productPage(db: DbOrTx, after: string | undefined, limit: number): Promise<Product[]> {
  return db
    .select()
    .from(products)
    .where(after === undefined ? undefined : gt(products.sku, after))
    .orderBy(asc(products.sku))
    .limit(limit);
}

/** Skus whose catalog data changed at or after `since`. */
export async function productsChangedSince(db: DbOrTx, since: Date): Promise<string[]> {
  const rows = await db.select({ sku: products.sku }).from(products).where(gte(products.updatedAt, since));
  return rows.map((r) => r.sku);
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
