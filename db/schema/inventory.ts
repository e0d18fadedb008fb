import { sql } from 'drizzle-orm';
import { bigint, bigserial, check, index, integer, pgSchema, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

export const inventory = pgSchema('inventory');

/** available = on_hand - reserved; a sale lowers on_hand and reserved together. */
export const stock = inventory.table(
  'stock',
  {
    sku: text('sku').primaryKey(),
    onHand: integer('on_hand').notNull().default(0),
    reserved: integer('reserved').notNull().default(0),
    sold: integer('sold').notNull().default(0),
    /** Bumped with updated_at by a trigger on every change (the search index orders stock updates by it). */
    version: bigint('version', { mode: 'number' }).notNull().default(1),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('stock_updated_at_idx').on(t.updatedAt),
    check('stock_on_hand_non_negative', sql`${t.onHand} >= 0`),
    check('stock_reserved_non_negative', sql`${t.reserved} >= 0`),
    check('stock_reserved_within_on_hand', sql`${t.reserved} <= ${t.onHand}`),
    check('stock_sold_non_negative', sql`${t.sold} >= 0`),
  ],
);

export const holdStatuses = ['held', 'committed', 'released', 'expired'] as const;
export type HoldStatus = (typeof holdStatuses)[number];

/** One row per (hold, sku). holdId is the caller's idempotency key (the checkout id). */
export const holds = inventory.table(
  'holds',
  {
    holdId: text('hold_id').notNull(),
    sku: text('sku').notNull(),
    quantity: integer('quantity').notNull(),
    status: text('status').$type<HoldStatus>().notNull().default('held'),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.holdId, t.sku] }),
    check('holds_quantity_positive', sql`${t.quantity} > 0`),
    check('holds_status_known', sql`${t.status} in ('held', 'committed', 'released', 'expired')`),
    index('holds_expiry_idx').on(t.expiresAt).where(sql`${t.status} = 'held'`),
  ],
);

/** Restocks (refunds) keyed by an idempotency key so stock returns exactly once. */
export const restocks = inventory.table(
  'restocks',
  {
    restockId: text('restock_id').notNull(),
    sku: text('sku').notNull(),
    quantity: integer('quantity').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.restockId, t.sku] }), check('restocks_quantity_positive', sql`${t.quantity} > 0`)],
);

export type Stock = typeof stock.$inferSelect;
export type Hold = typeof holds.$inferSelect;

/**
 * The audit of counted-stock changes (PUT /admin/inventory): who, when, why, before and after.
 * Written in the transaction of the change itself, so no change goes unrecorded.
 */
export const stockChanges = inventory.table(
  'stock_changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sku: text('sku').notNull(),
    /** null: the sku had no stock row before. */
    onHandBefore: integer('on_hand_before'),
    onHandAfter: integer('on_hand_after').notNull(),
    reserved: integer('reserved').notNull(),
    actorId: text('actor_id').notNull(),
    actorName: text('actor_name').notNull(),
    reason: text('reason').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('stock_changes_sku_idx').on(t.sku, t.id)],
);

export type StockChange = typeof stockChanges.$inferSelect;
