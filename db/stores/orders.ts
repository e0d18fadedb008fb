import { and, eq, inArray, sql } from 'drizzle-orm';
import { sumLinesBySku } from '../../domain/cart';
import type { Db, DbOrTx } from '../client';
import { randomId } from '../ids';
import { checkouts, orderEvents, orderLines, orders } from '../schema/order';
import { IllegalOrderTransition, statusesLeadingTo, type OrderStatus } from './order-lifecycle';
import { rowStatus } from '../../domain/checkout-lifecycle';

export interface NewOrderLine {
  sku: string;
  name: string;
  quantity: number;
  unitPrice: number;
  lineTotal: number;
}

export interface CreateOrderInput {
  checkoutId: string;
  cartId: string;
  email: string;
  customerId?: string;
  currency: string;
  totalAmount: number;
  shippingAddress?: Record<string, string>;
  lines: NewOrderLine[];
}

/** Creates the order of a checkout (at most one) and marks the checkout placed, atomically. */
export async function createOrder(db: Db, input: CreateOrderInput): Promise<string> {
  return db.transaction(async (tx) => {
    const [existing] = await tx.select({ id: orders.id }).from(orders).where(eq(orders.checkoutId, input.checkoutId));
    if (existing) return existing.id;
    const id = randomId('ord');
    await tx.insert(orders).values({
      id,
      checkoutId: input.checkoutId,
      cartId: input.cartId,
      email: input.email,
      customerId: input.customerId,
      status: 'placed',
      currency: input.currency,
      totalAmount: input.totalAmount,
      shippingAddress: input.shippingAddress,
    });
    await tx.insert(orderLines).values(
      sumLinesBySku(input.lines, ['lineTotal']).map((l) => ({
        orderId: id,
        sku: l.sku,
        name: l.name,
        quantity: l.quantity,
        unitPriceAmount: l.unitPrice,
        lineTotalAmount: l.lineTotal,
      })),
    );
    await tx.insert(orderEvents).values({ orderId: id, type: 'order_placed', toStatus: 'placed' });
    // Only a checkout still pending is placed: one already answered (failed by a re-run of a lost
    // workflow task, by reconciliation, or fenced by the API) stays as answered, and this order is
    // rolled back with the transaction — a stalled worker's late createOrder never revives it.
    const placed = await tx
      .update(checkouts)
      .set({ status: rowStatus('placed'), orderId: id, totalAmount: input.totalAmount, currency: input.currency, updatedAt: sql`now()` })
      .where(and(eq(checkouts.checkoutId, input.checkoutId), eq(checkouts.status, rowStatus('pending'))))
      .returning({ checkoutId: checkouts.checkoutId });
    if (placed.length === 0) {
      const [row] = await tx.select({ status: checkouts.status }).from(checkouts).where(eq(checkouts.checkoutId, input.checkoutId));
      // (an order written without a checkout row: imports, fixtures)
      if (row) throw new CheckoutAnsweredError(input.checkoutId, row.status);
    }
    return id;
  });
}

/** createOrder for a checkout that is no longer pending: it was answered without this order. */
export class CheckoutAnsweredError extends Error {
  constructor(
    readonly checkoutId: string,
    readonly status: string,
  ) {
    super(`checkout ${checkoutId} is ${status}: no order is created for it`);
    this.name = 'CheckoutAnsweredError';
  }
}

/**
 * A note in an order's history that changes no status (support actions, ignored requests).
 * Written once per (order, type, reason): a retried activity adds no second line.
 */
export async function addOrderEvent(db: Db, orderId: string, type: string, reason: string): Promise<void> {
  await db.execute(sql`insert into orders.order_events (order_id, type, reason)
    select ${orderId}, ${type}, ${reason}
    where not exists (select 1 from orders.order_events where order_id = ${orderId} and type = ${type} and reason = ${reason})`);
}

/**
 * Moves an order to `to` if the lifecycle allows it from its current status, and writes
 * the history row in the same transaction. Repeating a transition already made is a no-op
 * (activities retry); anything else illegal throws IllegalOrderTransition.
 */
export async function transitionOrder(db: Db, orderId: string, to: OrderStatus, reason?: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select({ status: orders.status }).from(orders).where(eq(orders.id, orderId)).for('update');
    if (!current) throw new Error(`no order ${orderId}`);
    if (current.status === to && to !== 'partially_refunded') return false;
    const allowedFrom: string[] = statusesLeadingTo(to);
    if (!allowedFrom.includes(current.status)) throw new IllegalOrderTransition(orderId, current.status, to);
    await tx
      .update(orders)
      .set({ status: to, statusReason: reason ?? null, updatedAt: sql`now()` })
      .where(and(eq(orders.id, orderId), inArray(orders.status, allowedFrom)));
    await tx.insert(orderEvents).values({ orderId, type: `order_${to}`, fromStatus: current.status, toStatus: to, reason });
    return true;
  });
}

/** Whether the order ever was paid (its history has the move to paid). */
export async function wasOrderPaid(db: DbOrTx, orderId: string): Promise<boolean> {
  const [row] = await db
    .select({ orderId: orderEvents.orderId })
    .from(orderEvents)
    .where(and(eq(orderEvents.orderId, orderId), eq(orderEvents.type, 'order_paid')))
    .limit(1);
  return row !== undefined;
}

export async function getOrderCheckoutId(db: DbOrTx, orderId: string): Promise<string | undefined> {
  const [row] = await db.select({ checkoutId: orders.checkoutId }).from(orders).where(eq(orders.id, orderId));
  return row?.checkoutId;
}

export async function getOrderIdByCheckout(db: DbOrTx, checkoutId: string): Promise<string | undefined> {
  const [row] = await db.select({ id: orders.id }).from(orders).where(eq(orders.checkoutId, checkoutId));
  return row?.id;
}

/** A support action in an order's history: who (actor), why (reason), when (now). One row per action. */
export async function addSupportEvent(
  db: DbOrTx,
  /** `at`: when the action was taken (the workflow's time of the decision); default now. */
  event: { orderId: string; type: string; reason?: string; actor: { id: string; name: string }; at?: Date },
): Promise<void> {
  await db.insert(orderEvents).values({
    orderId: event.orderId,
    type: event.type,
    reason: event.reason ?? null,
    actorId: event.actor.id,
    actorName: event.actor.name,
    ...(event.at ? { at: event.at } : {}),
  });
}
