import { sql } from 'drizzle-orm';
import { bigint, boolean, char, check, index, jsonb, pgSchema, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const paymentSchema = pgSchema('payment');

/**
 * One payment per checkout. The amounts are guarded by constraints so that no code
 * path can capture more than was authorized or refund more than was captured.
 */
export const payments = paymentSchema.table(
  'payments',
  {
    id: text('id').primaryKey(),
    checkoutId: text('checkout_id').notNull(),
    orderId: text('order_id'),
    gateway: text('gateway').notNull(),
    gatewayRef: text('gateway_ref').notNull(),
    status: text('status').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    authorizedAmount: bigint('authorized_amount', { mode: 'number' }).notNull().default(0),
    capturedAmount: bigint('captured_amount', { mode: 'number' }).notNull().default(0),
    refundedAmount: bigint('refunded_amount', { mode: 'number' }).notNull().default(0),
    refundPendingAmount: bigint('refund_pending_amount', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('payments_checkout_uq').on(t.checkoutId),
    index('payments_order_idx').on(t.orderId),
    // webhooks about charges and disputes find their payment by the intent id
    index('payments_gateway_ref_idx').on(t.gatewayRef),
    check('payments_status_known', sql`${t.status} in ('authorized', 'captured', 'voided', 'refunded', 'partially_refunded')`),
    check('payments_amounts_non_negative', sql`${t.authorizedAmount} >= 0 and ${t.capturedAmount} >= 0 and ${t.refundedAmount} >= 0 and ${t.refundPendingAmount} >= 0`),
    check('payments_captured_within_authorized', sql`${t.capturedAmount} <= ${t.authorizedAmount}`),
    check('payments_refunds_within_captured', sql`${t.refundedAmount} + ${t.refundPendingAmount} <= ${t.capturedAmount}`),
  ],
);

/**
 * Every authorization the checkout sends to the gateway, written (by its idempotency key, with
 * the amount asked) *before* the call, and no call without it: the durable answer to "may an
 * authorization have reached the gateway for this checkout?", which the workflow's own memory
 * cannot give when a lost workflow task made the call. A compensation that finds no attempt
 * writes `abandoned` first; one that finds an attempt re-sends it under the same key (the
 * gateway answers with the authorization that key made, or makes it now), voids what it got
 * and writes `voided`. An authorize that finds either is not sent (a slow worker's stale task).
 */
export const authorizationAttempts = paymentSchema.table(
  'authorization_attempts',
  {
    idempotencyKey: text('idempotency_key').primaryKey(),
    checkoutId: text('checkout_id').notNull(),
    fate: text('fate').notNull(),
    /** What the attempt asked for: a re-send under the same key must ask the same (Stripe refuses a key reused with other parameters). */
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    /** The gateway's id for it, once it answered with one that is not recorded as a payment yet (3-D Secure), or once voided. */
    gatewayRef: text('gateway_ref'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** When the latest attempt (a retry, a lost task's re-run) was about to call the gateway. */
    attemptedAt: timestamp('attempted_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('authorization_attempts_fate_known', sql`${t.fate} in ('attempted', 'abandoned', 'voided')`),
  ],
);

export const refunds = paymentSchema.table(
  'refunds',
  {
    id: text('id').primaryKey(),
    paymentId: text('payment_id').notNull(),
    orderId: text('order_id').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: text('status').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    reason: text('reason').notNull(),
    lines: jsonb('lines').$type<{ sku: string; quantity: number }[]>(),
    restock: boolean('restock').notNull().default(false),
    gatewayRef: text('gateway_ref'),
    failure: jsonb('failure'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('refunds_order_key_uq').on(t.orderId, t.idempotencyKey),
    index('refunds_payment_idx').on(t.paymentId),
    check('refunds_amount_positive', sql`${t.amount} > 0`),
    check('refunds_status_known', sql`${t.status} in ('pending', 'succeeded', 'failed')`),
  ],
);

/**
 * The `local` gateway's own ledger: it plays the part of an external processor, so it
 * lives in its own schema and answers a repeated idempotency key with the stored result.
 */
export const localGateway = pgSchema('local_gateway');

export const localGatewayOperations = localGateway.table(
  'operations',
  {
    idempotencyKey: text('idempotency_key').primaryKey(),
    operation: text('operation').notNull(),
    paymentRef: text('payment_ref').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    outcome: text('outcome').notNull(),
    declineCode: text('decline_code'),
    /** The caller's reference (our checkout id), as Stripe keeps it in the intent's metadata. */
    reference: text('reference'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('local_gateway_ops_ref_idx').on(t.paymentRef)],
);

/**
 * Every signed gateway event we accepted, once (Stripe delivers at least once): the row is
 * written before the 2xx, `deliveredAt` once the owning workflow was told. A duplicate
 * delivery of a delivered event is acknowledged and does nothing.
 */
export const webhookInbox = paymentSchema.table(
  'webhook_inbox',
  {
    eventId: text('event_id').primaryKey(),
    type: text('type').notNull(),
    /** The payment intent (or charge) the event is about. */
    objectId: text('object_id'),
    /** Our checkout, when the event could be matched to one. */
    checkoutId: text('checkout_id'),
    /** What was done with it: signalled_checkout, follow_up_started, ignored_unknown, ignored_type. */
    outcome: text('outcome'),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [index('webhook_inbox_checkout_idx').on(t.checkoutId)],
);

export type Payment = typeof payments.$inferSelect;
export type Refund = typeof refunds.$inferSelect;
