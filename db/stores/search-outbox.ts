import { and, asc, inArray, lte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { searchOutbox } from '../schema/catalog';

/**
 * The catalog's search outbox: every product change writes a row in its own transaction,
 * and the search sync drains them into the index (at least once, in id order).
 */

/** Notes a product version for the search index; call it in the transaction that wrote it. */
export async function recordSearchChange(tx: DbOrTx, change: { sku: string; version: number }): Promise<void> {
  await tx.insert(searchOutbox).values({ sku: change.sku, version: change.version });
}

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
