import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, jsonb, pgSchema, text, timestamp, char } from 'drizzle-orm/pg-core';

export const catalog = pgSchema('catalog');

export const products = catalog.table(
  'products',
  {
    sku: text('sku').primaryKey(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    category: text('category'),
    attributes: jsonb('attributes').$type<Record<string, string | number | boolean>>().notNull().default({}),
    priceAmount: bigint('price_amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    active: boolean('active').notNull().default(true),
    version: bigint('version', { mode: 'number' }).notNull().default(1),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('products_price_non_negative', sql`${t.priceAmount} >= 0`),
    check('products_currency_upper', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    index('products_category_idx').on(t.category),
    index('products_search_idx').using(
      'gin',
      sql`to_tsvector('english', ${t.name} || ' ' || ${t.description} || ' ' || coalesce(${t.category}, ''))`,
    ),
  ],
);

export type Product = typeof products.$inferSelect;
export type NewProduct = typeof products.$inferInsert;
