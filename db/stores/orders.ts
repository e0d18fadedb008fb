import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { randomId } from '../ids';
import { checkouts, orderEvents, orderLines, orders, type Checkout, type FrozenCart, type StoredFailure } from '../schema/order';
import { IllegalOrderTransition, statusesLeadingTo, type OrderStatus } from './order-lifecycle';

// ---- checkouts -------------------------------------------------------------------------

export interface OpenCheckoutInput {
  cartId: string;
  idempotencyKey: string;
  requestHash: string;
  email: string;
  workflowId: string;
}

/**
 * Records a checkout request under its Idempotency-Key (unique per cart). The first
 * caller creates it; every later caller with the same key gets the same row back.
 */
export async function openCheckout(db: Db, input: OpenCheckoutInput): Promise<{ checkout: Checkout; created: boolean }> {
  const [created] = await db
    .insert(checkouts)
    .values({ checkoutId: randomId('chk'), ...input })
    .onConflictDoNothing({ target: [checkouts.cartId, checkouts.idempotencyKey] })
    .returning();
  if (created) return { checkout: created, created: true };
  const [existing] = await db
    .select()
    .from(checkouts)
    .where(and(eq(checkouts.cartId, input.cartId), eq(checkouts.idempotencyKey, input.idempotencyKey)));
  if (!existing) throw new Error('checkout vanished after an idempotency conflict');
  return { checkout: existing, created: false };
}

export async function findCheckoutByKey(db: DbOrTx, cartId: string, idempotencyKey: string): Promise<Checkout | undefined> {
  const [row] = await db
    .select()
    .from(checkouts)
    .where(and(eq(checkouts.cartId, cartId), eq(checkouts.idempotencyKey, idempotencyKey)));
  return row;
}

export async function getCheckout(db: DbOrTx, checkoutId: string): Promise<Checkout | undefined> {
  const [row] = await db.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
  return row;
}

/**
 * Claims a pending checkout for a workflow run. Returns undefined when the run may go on,
 * or the finished checkout when another run already closed it (a late duplicate start).
 * The same run claiming again goes on whatever the status: its steps before the answer are
 * local activities, so a worker that dies mid-way leaves them to be re-run from the claim
 * by the same run, after they may have placed the order (every step is idempotent).
 */
export async function claimCheckout(db: Db, checkoutId: string, runId: string): Promise<Checkout | undefined> {
  const [claimed] = await db
    .update(checkouts)
    .set({ runId, updatedAt: sql`now()` })
    .where(and(eq(checkouts.checkoutId, checkoutId), eq(checkouts.status, 'pending')))
    .returning({ checkoutId: checkouts.checkoutId });
  if (claimed) return undefined;
  const existing = await getCheckout(db, checkoutId);
  if (!existing) throw new Error(`no checkout ${checkoutId}`);
  if (existing.runId === runId) return undefined;
  return existing;
}

/**
 * Stores the priced cart a checkout decided on, once: the first write wins and every later
 * call (a re-run of the step after a crash, with the live cart changed or not) gets the
 * stored one back, so a re-run repeats the first decision instead of re-deciding.
 */
export async function freezeCheckoutCart(db: Db, checkoutId: string, cart: FrozenCart): Promise<FrozenCart> {
  await db
    .update(checkouts)
    .set({ frozenCart: cart, updatedAt: sql`now()` })
    .where(and(eq(checkouts.checkoutId, checkoutId), sql`${checkouts.frozenCart} is null`));
  const frozen = await getFrozenCart(db, checkoutId);
  if (!frozen) throw new Error(`no checkout ${checkoutId}`);
  return frozen;
}

export async function getFrozenCart(db: DbOrTx, checkoutId: string): Promise<FrozenCart | undefined> {
  const [row] = await db.select({ frozenCart: checkouts.frozenCart }).from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
  return row?.frozenCart ?? undefined;
}

/**
 * Reconciliation closes a checkout whose workflow is gone, but only if nothing moved it since
 * it looked: still pending and still claimed by the run it saw (a replayed request may have
 * started a new run meanwhile). True when it closed it — only then may it return the money.
 */
export async function abandonCheckout(db: Db, checkoutId: string, seenRunId: string | null, failure: StoredFailure): Promise<boolean> {
  const closed = await db
    .update(checkouts)
    .set({ status: 'failed', failure, updatedAt: sql`now()` })
    .where(
      and(
        eq(checkouts.checkoutId, checkoutId),
        eq(checkouts.status, 'pending'),
        seenRunId === null ? sql`${checkouts.runId} is null` : eq(checkouts.runId, seenRunId),
      ),
    )
    .returning({ checkoutId: checkouts.checkoutId });
  return closed.length > 0;
}

/**
 * The checkout failed or was cancelled. An order it placed keeps its id here: the
 * storefront's original answer (201 with that order) is what a replay of the same request
 * gets, while GET /checkouts/:id shows the current state.
 */
export async function failCheckout(
  db: Db,
  checkoutId: string,
  failure: StoredFailure,
  total?: { amount: number; currency: string },
): Promise<void> {
  await db
    .update(checkouts)
    .set({
      status: 'failed',
      failure,
      totalAmount: total?.amount ?? sql`${checkouts.totalAmount}`,
      currency: total?.currency ?? sql`${checkouts.currency}`,
      updatedAt: sql`now()`,
    })
    .where(eq(checkouts.checkoutId, checkoutId));
}

// ---- orders --------------------------------------------------------------------------

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
      mergeLines(input.lines).map((l) => ({
        orderId: id,
        sku: l.sku,
        name: l.name,
        quantity: l.quantity,
        unitPriceAmount: l.unitPrice,
        lineTotalAmount: l.lineTotal,
      })),
    );
    await tx.insert(orderEvents).values({ orderId: id, type: 'order_placed', toStatus: 'placed' });
    await tx
      .update(checkouts)
      .set({ status: 'placed', orderId: id, totalAmount: input.totalAmount, currency: input.currency, updatedAt: sql`now()` })
      .where(eq(checkouts.checkoutId, input.checkoutId));
    return id;
  });
}

function mergeLines(lines: NewOrderLine[]): NewOrderLine[] {
  const bySku = new Map<string, NewOrderLine>();
  for (const l of lines) {
    const seen = bySku.get(l.sku);
    bySku.set(l.sku, seen ? { ...seen, quantity: seen.quantity + l.quantity, lineTotal: seen.lineTotal + l.lineTotal } : { ...l });
  }
  return [...bySku.values()];
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

export async function getOrderCheckoutId(db: DbOrTx, orderId: string): Promise<string | undefined> {
  const [row] = await db.select({ checkoutId: orders.checkoutId }).from(orders).where(eq(orders.id, orderId));
  return row?.checkoutId;
}

export async function getOrderIdByCheckout(db: DbOrTx, checkoutId: string): Promise<string | undefined> {
  const [row] = await db.select({ id: orders.id }).from(orders).where(eq(orders.checkoutId, checkoutId));
  return row?.id;
}

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
  events: { type: string; fromStatus: string | null; toStatus: string | null; reason: string | null; at: Date }[];
}

/** Loads orders with their lines and events: three queries however many orders. */
export async function loadOrders(db: DbOrTx, ids: string[]): Promise<OrderView[]> {
  if (ids.length === 0) return [];
  const rows = await db.select().from(orders).where(inArray(orders.id, ids)).orderBy(desc(orders.createdAt));
  const lines = await db.select().from(orderLines).where(inArray(orderLines.orderId, ids)).orderBy(asc(orderLines.sku));
  const events = await db.select().from(orderEvents).where(inArray(orderEvents.orderId, ids)).orderBy(asc(orderEvents.id));
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
