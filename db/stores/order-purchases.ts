import { and, asc, eq, gt, gte, inArray, lt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { orderLines, orders } from '../schema/order';
import type { OrderStatus } from './order-lifecycle';

/**
 * The order context's read of what was bought, for other contexts' read models (the
 * recommendations): plain values, no rows or tables leave this module.
 */

/** Orders whose sale stands: paid, and not (fully) refunded or cancelled. */
export const PURCHASED_STATUSES: readonly OrderStatus[] = ['paid', 'fulfilled', 'partially_refunded'];

export interface PurchasedOrder {
  orderId: string;
  status: string;
  createdAt: Date;
  /** Skus bought; by default without the lines refunded in full. */
  skus: string[];
}

/**
 * One keyset page (by order id) of the orders whose sale stands, created since `since`, with
 * the skus of their lines that were not refunded in full. `last` is the page's last order id
 * (the next page's `after`), `done` when the page was not full.
 */
export async function purchasedOrdersPage(
  db: DbOrTx,
  page: { after?: string; limit: number; since: Date },
): Promise<{ orders: PurchasedOrder[]; last?: string; done: boolean }> {
  const ids = await db
    .select({ id: orders.id, status: orders.status, createdAt: orders.createdAt })
    .from(orders)
    .where(
      and(
        page.after !== undefined ? gt(orders.id, page.after) : undefined,
        inArray(orders.status, [...PURCHASED_STATUSES]),
        gte(orders.createdAt, page.since),
      ),
    )
    .orderBy(asc(orders.id))
    .limit(page.limit);
  if (ids.length === 0) return { orders: [], done: true };
  const lines = await db
    .select({ orderId: orderLines.orderId, sku: orderLines.sku })
    .from(orderLines)
    .where(and(inArray(orderLines.orderId, ids.map((o) => o.id)), lt(orderLines.refundedQuantity, orderLines.quantity)));
  const skus = new Map<string, string[]>();
  for (const l of lines) skus.set(l.orderId, [...(skus.get(l.orderId) ?? []), l.sku]);
  return {
    orders: ids.map((o) => ({ orderId: o.id, status: o.status, createdAt: o.createdAt, skus: (skus.get(o.id) ?? []).sort() })),
    last: ids[ids.length - 1]?.id,
    done: ids.length < page.limit,
  };
}

/** One order with every sku it was placed with (refunded lines included), or undefined. */
export async function purchasedOrder(db: DbOrTx, orderId: string): Promise<PurchasedOrder | undefined> {
  const [order] = await db.select({ id: orders.id, status: orders.status, createdAt: orders.createdAt }).from(orders).where(eq(orders.id, orderId));
  if (!order) return undefined;
  const lines = await db.select({ sku: orderLines.sku }).from(orderLines).where(eq(orderLines.orderId, orderId)).orderBy(sql`${orderLines.sku}`);
  return { orderId: order.id, status: order.status, createdAt: order.createdAt, skus: lines.map((l) => l.sku) };
}
