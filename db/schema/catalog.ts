import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, check, index, jsonb, pgSchema, text, timestamp, char } from 'drizzle-orm/pg-core';

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
    // the recommendation answer cache polls "changed since" every few hundred ms (usecases/recommendation-answers.ts)
    index('products_updated_at_idx').on(t.updatedAt),
    index('products_search_idx').using(
      'gin',
      sql`to_tsvector('english', ${t.name} || ' ' || ${t.description} || ' ' || coalesce(${t.category}, ''))`,
    ),
  ],
);

export type Product = typeof products.$inferSelect;
export type NewProduct = typeof products.$inferInsert;

/**
 * Product changes not yet in the search index: one row per committed write, inserted in the
 * same transaction as the product change, deleted once the index holds that version (or a
 * newer one). A crash between commit and index write leaves the row here for the next drain.
 */
export const searchOutbox = catalog.table(
  'search_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sku: text('sku').notNull(),
    version: bigint('version', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('search_outbox_sku_idx').on(t.sku)],
);

/** The audit of catalog changes by operations (PUT/DELETE /admin/products): who, when, why, the version it made. */
export const productChanges = catalog.table(
  'product_changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sku: text('sku').notNull(),
    action: text('action').$type<'upsert' | 'deactivate'>().notNull(),
    /** The product's version after the change. */
    version: bigint('version', { mode: 'number' }).notNull(),
    actorId: text('actor_id').notNull(),
    actorName: text('actor_name').notNull(),
    reason: text('reason'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('product_changes_sku_idx').on(t.sku, t.id)],
);

export type ProductChange = typeof productChanges.$inferSelect;
