import { sql } from 'drizzle-orm';
import { bigint, bigserial, char, check, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const orderSchema = pgSchema('orders');

/** A priced cart as stored with its checkout (the shape of workflows' PricedCart). */
export interface FrozenCart {
  cartId: string;
  currency: string;
  lines: { sku: string; name: string; quantity: number; unitPrice: { amount: number; currency: string }; lineTotal: { amount: number; currency: string } }[];
  total: { amount: number; currency: string };
}

export interface StoredFailure {
  code: string;
  message: string;
  details?: unknown;
}

/**
 * A checkout request: opened by the API with the caller's Idempotency-Key (unique per
 * cart), claimed by exactly one workflow run, and closed as placed or failed.
 */
export const checkouts = orderSchema.table(
  'checkouts',
  {
    checkoutId: text('checkout_id').primaryKey(),
    cartId: text('cart_id').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    requestHash: text('request_hash').notNull(),
    email: text('email').notNull(),
    /** The customer account that owns the cart (and so this checkout); null for a guest's. */
    customerId: text('customer_id'),
    status: text('status').$type<'pending' | 'placed' | 'failed'>().notNull().default('pending'),
    workflowId: text('workflow_id').notNull(),
    runId: text('run_id'),
    orderId: text('order_id'),
    totalAmount: bigint('total_amount', { mode: 'number' }),
    currency: char('currency', { length: 3 }),
    failure: jsonb('failure').$type<StoredFailure>(),
    /**
     * The priced cart this checkout decided on, written once by its first pricing (first
     * write wins): every re-run of a step reuses it instead of re-reading the live cart.
     */
    frozenCart: jsonb('frozen_cart').$type<FrozenCart>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('checkouts_cart_key_uq').on(t.cartId, t.idempotencyKey),
    check('checkouts_status_known', sql`${t.status} in ('pending', 'placed', 'failed')`),
  ],
);

export const orders = orderSchema.table(
  'orders',
  {
    id: text('id').primaryKey(),
    checkoutId: text('checkout_id').notNull(),
    cartId: text('cart_id').notNull(),
    email: text('email').notNull(),
    customerId: text('customer_id'),
    status: text('status').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    totalAmount: bigint('total_amount', { mode: 'number' }).notNull(),
    shippingAddress: jsonb('shipping_address'),
    statusReason: text('status_reason'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('orders_checkout_uq').on(t.checkoutId),
    index('orders_email_idx').on(t.email),
    index('orders_customer_idx').on(t.customerId),
    check('orders_total_non_negative', sql`${t.totalAmount} >= 0`),
  ],
);

export const orderLines = orderSchema.table(
  'order_lines',
  {
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    sku: text('sku').notNull(),
    name: text('name').notNull(),
    quantity: integer('quantity').notNull(),
    unitPriceAmount: bigint('unit_price_amount', { mode: 'number' }).notNull(),
    lineTotalAmount: bigint('line_total_amount', { mode: 'number' }).notNull(),
    /** Units refunded (summed over every refund of the order) and, of those, put back in stock. */
    refundedQuantity: integer('refunded_quantity').notNull().default(0),
    restockedQuantity: integer('restocked_quantity').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.orderId, t.sku] }),
    check('order_lines_quantity_positive', sql`${t.quantity} > 0`),
    check('order_lines_total', sql`${t.lineTotalAmount} = ${t.unitPriceAmount} * ${t.quantity}`),
    check('order_lines_refunded_within_sold', sql`${t.refundedQuantity} >= 0 and ${t.refundedQuantity} <= ${t.quantity}`),
    check('order_lines_restocked_within_refunded', sql`${t.restockedQuantity} >= 0 and ${t.restockedQuantity} <= ${t.refundedQuantity}`),
  ],
);

/**
 * The line quantities one refund took from its order (its idempotency record): a refund
 * claims its lines once, and the order_lines checks bound the sum over all refunds.
 */
export const refundLineClaims = orderSchema.table(
  'refund_line_claims',
  {
    refundId: text('refund_id').notNull(),
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    sku: text('sku').notNull(),
    quantity: integer('quantity').notNull(),
    restockQuantity: integer('restock_quantity').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.refundId, t.sku] }),
    check('refund_line_claims_quantities', sql`${t.quantity} >= 0 and ${t.restockQuantity} >= 0 and ${t.restockQuantity} <= ${t.quantity}`),
  ],
);

export const orderEvents = orderSchema.table(
  'order_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    type: text('type').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status'),
    reason: text('reason'),
    /** Who acted, for a support action (retry, cancel, refund); null for the system's own steps. */
    actorId: text('actor_id'),
    actorName: text('actor_name'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('order_events_order_idx').on(t.orderId, t.id)],
);

export type Checkout = typeof checkouts.$inferSelect;
export type Order = typeof orders.$inferSelect;
export type OrderLine = typeof orderLines.$inferSelect;
export type OrderEvent = typeof orderEvents.$inferSelect;
