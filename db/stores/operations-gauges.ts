import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { searchOutbox } from '../schema/catalog';
import { orders } from '../schema/order';

/**
 * Cheap reads for the operations gauges (api/metrics.ts caches them between scrapes).
 */

/** Orders parked for support. */
export async function ordersNeedingAttention(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(orders).where(eq(orders.status, 'needs_attention'));
  return row?.n ?? 0;
}

/** The search outbox: how many changes wait and how old the oldest is (the index's lag behind the catalog). */
export async function searchOutboxLag(db: DbOrTx): Promise<{ depth: number; oldestSeconds: number }> {
  const [row] = await db
    .select({
      depth: sql<number>`count(*)::int`,
      oldestSeconds: sql<number>`coalesce(extract(epoch from now() - min(${searchOutbox.createdAt})), 0)::float8`,
    })
    .from(searchOutbox);
  return { depth: row?.depth ?? 0, oldestSeconds: row?.oldestSeconds ?? 0 };
}
