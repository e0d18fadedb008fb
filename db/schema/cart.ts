import { sql } from 'drizzle-orm';
import { bigint, char, check, index, jsonb, pgSchema, text, timestamp } from 'drizzle-orm/pg-core';

export const cart = pgSchema('cart');

export interface CartLineRecord {
  sku: string;
  quantity: number;
}

/**
 * Durable backup of the Redis cart. Every Redis write bumps `version`; the backup
 * only accepts a snapshot newer than the one it holds, so concurrent writers never
 * roll a cart back.
 */
export const carts = cart.table(
  'carts',
  {
    id: text('id').primaryKey(),
    currency: char('currency', { length: 3 }).notNull(),
    email: text('email'),
    customerId: text('customer_id'),
    lines: jsonb('lines').$type<CartLineRecord[]>().notNull().default([]),
    version: bigint('version', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** The last few checkouts whose paid lines the cart gave up (StoredCart.cleared): a restored cart keeps its clears idempotent. */
    cleared: jsonb('cleared').$type<string[]>(),
  },
  (t) => [
    check('carts_version_positive', sql`${t.version} > 0`),
    index('carts_customer_idx').on(t.customerId),
    // the recovery sweep pages idle carts by (updated_at, id)
    index('carts_updated_idx').on(t.updatedAt, t.id),
  ],
);

export type CartBackup = typeof carts.$inferSelect;

/**
 * Where the cart-recovery sweep (activities/cart-recovery.ts ensureCartRecoveries) got to, kept
 * between its runs so that every idle cart in its window is reached in turn (one row): `edge`, how
 * far the carts entering the window were taken (ascending); `cursor`, where the rolling pass down
 * the whole window stopped (descending; none: it starts again from the edge).
 */
export const recoverySweep = cart.table('recovery_sweep', {
  id: text('id').primaryKey(),
  edgeAt: timestamp('edge_at', { withTimezone: true, precision: 3 }),
  edgeId: text('edge_id'),
  cursorAt: timestamp('cursor_at', { withTimezone: true, precision: 3 }),
  cursorId: text('cursor_id'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
