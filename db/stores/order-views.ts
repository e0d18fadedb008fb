import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { orderEvents, orderLines, orders } from '../schema/order';

/** Orders as the API shows them (reads only). */

export interface OrderView {
  id: string;
  checkoutId: string;
  status: string;
  email: string;
  customerId: string | null;
  currency: string;
  totalAmount: number;
  createdAt: Date;
  lines: { sku: string; name: string; quantity: number; unitPriceAmount: number; lineTotalAmount: number }[];
  events: { type: string; fromStatus: string | null; toStatus: string | null; reason: string | null; actorId: string | null; actorName: string | null; at: Date }[];
}

/** Loads orders with their lines and events: three queries however many orders. */
export async function loadOrders(db: DbOrTx, ids: string[]): Promise<OrderView[]> {
  if (ids.length === 0) return [];
  const rows = await db.select().from(orders).where(inArray(orders.id, ids)).orderBy(desc(orders.createdAt));
  const lines = await db.select().from(orderLines).where(inArray(orderLines.orderId, ids)).orderBy(asc(orderLines.sku));
  const events = await db.select().from(orderEvents).where(inArray(orderEvents.orderId, ids)).orderBy(asc(orderEvents.at), asc(orderEvents.id));
  return rows.map((o) => ({
    id: o.id,
    checkoutId: o.checkoutId,
    status: o.status,
    email: o.email,
    customerId: o.customerId,
    currency: o.currency,
    totalAmount: o.totalAmount,
    createdAt: o.createdAt,
    lines: lines.filter((l) => l.orderId === o.id),
    events: events.filter((e) => e.orderId === o.id),
  }));
}

/** Whether `email` placed an order before (any status: an order exists only once a payment was authorized). Case-insensitive. */
export async function hasOrderFrom(db: DbOrTx, email: string): Promise<boolean> {
  const [row] = await db.select({ id: orders.id }).from(orders).where(sql`lower(${orders.email}) = ${email.toLowerCase()}`).limit(1);
  return row !== undefined;
}

export async function findOrderIds(db: DbOrTx, filter: { email?: string; customerId?: string }, limit = 100): Promise<string[]> {
  const conditions = [];
  if (filter.email) conditions.push(eq(orders.email, filter.email));
  if (filter.customerId) conditions.push(eq(orders.customerId, filter.customerId));
  if (conditions.length === 0) return [];
  const rows = await db
    .select({ id: orders.id })
    .from(orders)
    .where(and(...conditions))
    .orderBy(desc(orders.createdAt))
    .limit(limit);
  return rows.map((r) => r.id);
}

/**
 * A customer account's orders, newest first, a page at a time (keyset on created_at in whole
 * microseconds — PostgreSQL's precision, finer than a JS Date — then id, both descending):
 * the page's ids and the position of its last row when more follow.
 */
export async function customerOrderIds(
  db: DbOrTx,
  customerId: string,
  page: { limit: number; after?: { micros: string; id: string } },
): Promise<{ ids: string[]; next?: { micros: string; id: string } }> {
  const micros = sql<string>`(extract(epoch from ${orders.createdAt}) * 1000000)::bigint`;
  const mine = eq(orders.customerId, customerId);
  const rows = await db
    .select({ id: orders.id, micros: sql<string>`${micros}::text` })
    .from(orders)
    .where(page.after ? and(mine, sql`(${micros}, ${orders.id}) < (${page.after.micros}::bigint, ${page.after.id})`) : mine)
    .orderBy(desc(orders.createdAt), desc(orders.id))
    .limit(page.limit + 1);
  const shown = rows.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return { ids: shown.map((r) => r.id), next: rows.length > page.limit && last ? { micros: last.micros, id: last.id } : undefined };
}
