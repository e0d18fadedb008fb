import { sql } from 'drizzle-orm';
import { check, pgSchema, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { SupportRole } from '../../domain/support';

export const supportSchema = pgSchema('support');

/**
 * Per-person support credentials. Only the SHA-256 of the token is stored: the token is 256
 * random bits, so a fast hash is enough (nothing to brute-force, unlike a password), and a
 * lookup by hash is one index probe per request. The secret is shown once, at creation.
 */
export const supportTokens = supportSchema.table(
  'tokens',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    email: text('email'),
    roles: text('roles').array().$type<SupportRole[]>().notNull(),
    /** hex SHA-256 of the whole token (`osp_…`). */
    tokenHash: text('token_hash').notNull(),
    /** The first characters of the token (`osp_ab12`): recognisable in lists and logs, useless to an attacker. */
    tokenHint: text('token_hint').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('tokens_hash_uq').on(t.tokenHash),
    check('tokens_roles_known', sql`cardinality(${t.roles}) > 0 and ${t.roles} <@ array['support', 'operations', 'admin']::text[]`),
  ],
);

export type SupportToken = typeof supportTokens.$inferSelect;
