import { and, asc, eq, gt, gte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { stock } from '../schema/inventory';

export interface StockLevel {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
  /** Moves on every change of this row (a trigger): orders updates sent to the search index. */
  version: number;
}

const level = (r: typeof stock.$inferSelect): StockLevel => ({ sku: r.sku, onHand: r.onHand, reserved: r.reserved, available: r.onHand - r.reserved, version: r.version });

/** Stock levels of many skus, as a prepared statement (every product page and recommendation reads it): built once per handle. */
const preparedLevels = new WeakMap<DbOrTx, ReturnType<typeof prepareLevels>>();
const prepareLevels = (db: DbOrTx) =>
  db
    .select()
    .from(stock)
    .where(sql`${stock.sku} = any(${sql.placeholder('skus')}::text[])`)
    .prepare('inventory_stock_levels');

/** Stock levels of the given skus in one query; a sku without a row has none. */
export async function stockLevels(db: DbOrTx, skus: string[]): Promise<Map<string, StockLevel>> {
  if (skus.length === 0) return new Map();
  let statement = preparedLevels.get(db);
  if (!statement) {
    statement = prepareLevels(db);
    preparedLevels.set(db, statement);
  }
  const rows = await statement.execute({ skus });
  return new Map(rows.map((r) => [r.sku, level(r)]));
}

/**
 * Stock rows changed at or after `since` (oldest first, at most `limit`), and the newest
 * change time seen. Callers re-read a little before their last watermark: a transaction that
 * committed late can carry an earlier time.
 */
export async function stockChangedSince(db: DbOrTx, since: Date, limit: number): Promise<{ levels: StockLevel[]; newest?: Date }> {
  const rows = await db.select().from(stock).where(gte(stock.updatedAt, since)).orderBy(asc(stock.updatedAt)).limit(limit);
  return { levels: rows.map(level), newest: rows[rows.length - 1]?.updatedAt };
}

/** Skus with something available to sell (for the in-stock filter). */
export async function skusInStock(db: DbOrTx): Promise<string[]> {
  const rows = await db.select({ sku: stock.sku }).from(stock).where(gt(sql`${stock.onHand} - ${stock.reserved}`, 0));
  return rows.map((r) => r.sku);
}

/** Gives a sku its first stock count; a sku that already has stock keeps it. True when created. */
export async function createStockIfMissing(db: DbOrTx, sku: string, onHand: number): Promise<boolean> {
  const rows = await db.insert(stock).values({ sku, onHand }).onConflictDoNothing().returning({ sku: stock.sku });
  return rows.length > 0;
}

export type SetOnHandResult = { status: 'ok'; level: StockLevel } | { status: 'below_reserved'; level: StockLevel };

/**
 * Sets the counted stock of a sku. One conditional statement: it never goes below what
 * is reserved for open checkouts (the table's CHECK guards the same from any writer).
 */
export async function setOnHand(db: DbOrTx, sku: string, onHand: number): Promise<SetOnHandResult> {
  await db.insert(stock).values({ sku, onHand: 0 }).onConflictDoNothing();
  const [row] = await db
    .update(stock)
    .set({ onHand, updatedAt: sql`now()` })
    .where(and(eq(stock.sku, sku), sql`${stock.reserved} <= ${onHand}`))
    .returning();
  if (row) return { status: 'ok', level: level(row) };
  const current = (await stockLevels(db, [sku])).get(sku) ?? { sku, onHand: 0, reserved: 0, available: 0, version: 0 };
  return { status: 'below_reserved', level: current };
}

/**
 * Stock rows changed at or after `since` (every change moves version and updated_at: the
 * stock_touch trigger), with the database's clock now; caches of availability poll it.
 */
export async function stockChangesSince(db: DbOrTx, since: Date): Promise<{ now: Date; changes: { sku: string; version: number; updatedAt: Date }[] }> {
  const [clock] = await db.select({ now: sql<Date>`clock_timestamp()`.mapWith((v: string | Date) => new Date(v)) }).from(sql`(select 1) as clock`);
  const changes = await db.select({ sku: stock.sku, version: stock.version, updatedAt: stock.updatedAt }).from(stock).where(gte(stock.updatedAt, since));
  return { now: (clock as { now: Date }).now, changes };
}
