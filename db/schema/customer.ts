import { sql } from 'drizzle-orm';
import { check, pgSchema, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const customer = pgSchema('customer');

/**
 * Customer accounts. The id is an account id (`cus_` + 128 random bits, db/ids.ts): the only
 * kind of customerId that makes a cart, checkout or order the customer's own. Emails are
 * unique whatever their case (the index is on lower(email)); the password is an scrypt hash
 * with its own salt and parameters (usecases/passwords.ts).
 */
export const customers = customer.table(
  'customers',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    passwordChangedAt: timestamp('password_changed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('customers_email_lower_uq').on(sql`lower(${t.email})`),
    check('customers_id_shape', sql`${t.id} ~ '^cus_[A-Za-z0-9_-]{22}$'`),
  ],
);

export type Customer = typeof customers.$inferSelect;
