import { index, jsonb, pgSchema, text, timestamp } from 'drizzle-orm/pg-core';

export const notificationSchema = pgSchema('notification');

/**
 * One row per message we mean to send, keyed by a deterministic idempotency key
 * (e.g. `order-confirmation:<orderId>`), so a retried activity never sends twice.
 */
export const outbox = notificationSchema.table(
  'outbox',
  {
    idempotencyKey: text('idempotency_key').primaryKey(),
    kind: text('kind').notNull(),
    recipient: text('recipient').notNull(),
    subject: text('subject').notNull(),
    payload: jsonb('payload').notNull().default({}),
    status: text('status').$type<'pending' | 'sent'>().notNull().default('pending'),
    messageId: text('message_id'),
    /** A send in progress holds the row until then: an overlapping attempt waits instead of sending too. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    leaseToken: text('lease_token'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [index('outbox_recipient_idx').on(t.recipient)],
);

export type OutboxMessage = typeof outbox.$inferSelect;

/** Customers who asked for no more cart reminders (by email), respected by every send. */
export const optOuts = notificationSchema.table('opt_outs', {
  email: text('email').primaryKey(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
