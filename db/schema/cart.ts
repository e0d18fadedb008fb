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
  },
  (t) => [check('carts_version_positive', sql`${t.version} > 0`), index('carts_customer_idx').on(t.customerId)],
);

export type CartBackup = typeof carts.$inferSelect;
