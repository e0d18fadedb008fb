import { and, asc, desc, eq, gt, gte, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { stock, stockChanges, type StockChange } from '../schema/inventory';

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

/** Every sku's available stock (`since` null), or of those whose row changed at or after `since`; with the database's clock now. */
export async function availabilitySince(db: DbOrTx, since: Date | null): Promise<{ now: Date; rows: { sku: string; available: number }[] }> {
  const [clock] = await db.select({ now: sql<Date>`clock_timestamp()`.mapWith((v: string | Date) => new Date(v)) }).from(sql`(select 1) as clock`);
  const columns = { sku: stock.sku, available: sql<number>`${stock.onHand} - ${stock.reserved}`.mapWith(Number) };
  const rows = since ? await db.select(columns).from(stock).where(gte(stock.updatedAt, since)) : await db.select(columns).from(stock);
  return { now: (clock as { now: Date }).now, rows };
}

/** Who changed the counted stock and why (the stock_changes audit). */
export interface StockChangeAudit {
  actorId: string;
  actorName: string;
  reason: string;
}

/**
 * setOnHand with its audit row (before, after, who, why) in the same transaction: a change
 * is never made without its record. A refused change (below reserved) records nothing.
 */
export async function setOnHandAudited(db: Db, sku: string, onHand: number, audit: StockChangeAudit): Promise<SetOnHandResult> {
  return db.transaction(async (tx) => {
    // The row first, then the lock: a SELECT … FOR UPDATE of a missing row locks nothing, so two
    // first counts would both read "no row". The insert that creates it knows there was none;
    // a concurrent one waits for it on the key and then reads (and locks) what it left.
    const created = await tx.insert(stock).values({ sku, onHand: 0 }).onConflictDoNothing().returning({ sku: stock.sku });
    const [before] = created.length > 0 ? [undefined] : await tx.select({ onHand: stock.onHand }).from(stock).where(eq(stock.sku, sku)).for('update');
    const result = await setOnHand(tx, sku, onHand);
    if (result.status === 'ok') {
      await tx.insert(stockChanges).values({
        sku,
        onHandBefore: before?.onHand ?? null,
        onHandAfter: result.level.onHand,
        reserved: result.level.reserved,
        ...audit,
      });
    }
    return result;
  });
}

/** A sku's stock changes, newest first. */
export async function stockChangesOf(db: DbOrTx, sku: string, limit = 100): Promise<StockChange[]> {
  return db.select().from(stockChanges).where(eq(stockChanges.sku, sku)).orderBy(desc(stockChanges.id)).limit(limit);
}
