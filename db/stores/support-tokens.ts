import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { supportTokens, type SupportToken } from '../schema/support';
import type { SupportRole } from '../../domain/support';

export interface NewSupportToken {
  id: string;
  name: string;
  email?: string;
  roles: SupportRole[];
  tokenHash: string;
  tokenHint: string;
  createdBy: string;
}

/** A token as listed: never its hash. */
export type SupportTokenListing = Omit<SupportToken, 'tokenHash'>;

const listed = {
  id: supportTokens.id,
  name: supportTokens.name,
  email: supportTokens.email,
  roles: supportTokens.roles,
  tokenHint: supportTokens.tokenHint,
  createdBy: supportTokens.createdBy,
  createdAt: supportTokens.createdAt,
  revokedAt: supportTokens.revokedAt,
  lastUsedAt: supportTokens.lastUsedAt,
};

export async function insertSupportToken(db: DbOrTx, token: NewSupportToken): Promise<SupportTokenListing> {
  const [row] = await db.insert(supportTokens).values({ ...token, email: token.email ?? null }).returning(listed);
  return row as SupportTokenListing;
}

/** The live (not revoked) token with this hash. */
export async function findLiveSupportToken(db: DbOrTx, tokenHash: string): Promise<SupportToken | undefined> {
  const [row] = await db
    .select()
    .from(supportTokens)
    .where(and(eq(supportTokens.tokenHash, tokenHash), isNull(supportTokens.revokedAt)));
  return row;
}

/** Marks a token used; at most one write a minute per token, so a busy support tool does not write on every request. */
export async function touchSupportToken(db: DbOrTx, id: string): Promise<void> {
  await db
    .update(supportTokens)
    .set({ lastUsedAt: sql`now()` })
    .where(and(eq(supportTokens.id, id), or(isNull(supportTokens.lastUsedAt), lt(supportTokens.lastUsedAt, sql`now() - interval '1 minute'`))));
}

/** Revokes a token (idempotent: the first revocation's time stays). Undefined: no such token. */
export async function revokeSupportToken(db: DbOrTx, id: string): Promise<SupportTokenListing | undefined> {
  const [revoked] = await db
    .update(supportTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(supportTokens.id, id), isNull(supportTokens.revokedAt)))
    .returning(listed);
  if (revoked) return revoked;
  const [row] = await db.select(listed).from(supportTokens).where(eq(supportTokens.id, id));
  return row;
}

export async function listSupportTokens(db: DbOrTx): Promise<SupportTokenListing[]> {
  return db.select(listed).from(supportTokens).orderBy(desc(supportTokens.createdAt), supportTokens.id);
}
