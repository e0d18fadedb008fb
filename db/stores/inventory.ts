import { and, eq, gt, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { stock } from '../schema/inventory';

export interface StockLevel {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
}

/** Stock levels of the given skus in one query; a sku without a row has none. */
export async function stockLevels(db: DbOrTx, skus: string[]): Promise<Map<string, StockLevel>> {
  if (skus.length === 0) return new Map();
  const rows = await db.select().from(stock).where(inArray(stock.sku, skus));
  return new Map(rows.map((r) => [r.sku, { sku: r.sku, onHand: r.onHand, reserved: r.reserved, available: r.onHand - r.reserved }]));
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
  if (row) return { status: 'ok', level: { sku, onHand: row.onHand, reserved: row.reserved, available: row.onHand - row.reserved } };
  const level = (await stockLevels(db, [sku])).get(sku) ?? { sku, onHand: 0, reserved: 0, available: 0 };
  return { status: 'below_reserved', level };
}
