import { and, asc, desc, eq, gt, gte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { productChanges, products, type Product, type ProductChange } from '../schema/catalog';
import { recordSearchChange } from './search-outbox';

/** Products: reads by sku and the writes (each with its search-outbox row). */

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
  return (await writeProduct(db, p)).product;
}

/** upsertProduct, saying whether anything changed (a PUT of what is already there changes nothing: same version). */
export async function writeProduct(db: DbOrTx, p: ProductInput): Promise<{ product: Product; changed: boolean }> {
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
      await recordSearchChange(tx, row);
      return { product: row, changed: true };
    }
    const current = await getProduct(tx, p.sku);
    if (!current) throw new Error(`upsert of ${p.sku} returned nothing`);
    return { product: current, changed: false };
  });
}

/** Takes a product off sale (not listed, not sold); undefined when there is no such sku. */
export async function deactivateProduct(db: DbOrTx, sku: string): Promise<Product | undefined> {
  return (await deactivateProductChanged(db, sku))?.product;
}

/** deactivateProduct, saying whether it changed anything (an inactive product stays as it is). */
export async function deactivateProductChanged(db: DbOrTx, sku: string): Promise<{ product: Product; changed: boolean } | undefined> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(products)
      .set({ active: false, version: sql`${products.version} + 1`, updatedAt: sql`now()` })
      .where(and(eq(products.sku, sku), eq(products.active, true)))
      .returning();
    if (row) {
      await recordSearchChange(tx, row);
      return { product: row, changed: true };
    }
    const current = await getProduct(tx, sku);
    return current ? { product: current, changed: false } : undefined;
  });
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

/** A changed row as a cache sees it: which sku, at which version, when. */
export interface RowChange {
  sku: string;
  version: number;
  updatedAt: Date;
}

/**
 * Products written at or after `since`, with the database's clock now (a watermark that does
 * not depend on the caller's clock). Caches of product fields poll it (recommendation answers).
 */
export async function productChangesSince(db: DbOrTx, since: Date): Promise<{ now: Date; changes: RowChange[] }> {
  const [clock] = await db.select({ now: sql<Date>`clock_timestamp()`.mapWith((v: string | Date) => new Date(v)) }).from(sql`(select 1) as clock`);
  const changes = await db.select({ sku: products.sku, version: products.version, updatedAt: products.updatedAt }).from(products).where(gte(products.updatedAt, since));
  return { now: (clock as { now: Date }).now, changes };
}

/** What a recommendation answer shows of a product, as a poller keeps it (usecases/recommendation-answers.ts). */
export interface ProductState {
  sku: string;
  name: string;
  category: string | null;
  priceAmount: number;
  currency: string;
  active: boolean;
  version: number;
}

/**
 * Every product (`since` null) or those written at or after `since`, with the fields an answer
 * shows, and the database's clock now (the next call's watermark, independent of the caller's clock).
 */
export async function productStatesSince(db: DbOrTx, since: Date | null): Promise<{ now: Date; rows: ProductState[] }> {
  const [clock] = await db.select({ now: sql<Date>`clock_timestamp()`.mapWith((v: string | Date) => new Date(v)) }).from(sql`(select 1) as clock`);
  const columns = { sku: products.sku, name: products.name, category: products.category, priceAmount: products.priceAmount, currency: products.currency, active: products.active, version: products.version };
  const rows = since ? await db.select(columns).from(products).where(gte(products.updatedAt, since)) : await db.select(columns).from(products);
  return { now: (clock as { now: Date }).now, rows };
}

/** The catalog audit: who changed a product (PUT/DELETE /admin/products), when, why, to which version. */
export async function recordProductChange(
  db: DbOrTx,
  change: { sku: string; action: 'upsert' | 'deactivate'; version: number; actorId: string; actorName: string; reason?: string },
): Promise<void> {
  await db.insert(productChanges).values({ ...change, reason: change.reason ?? null });
}

/** A product's audit, newest first. */
export async function productChangesOf(db: DbOrTx, sku: string, limit = 100): Promise<ProductChange[]> {
  return db.select().from(productChanges).where(eq(productChanges.sku, sku)).orderBy(desc(productChanges.id)).limit(limit);
}
