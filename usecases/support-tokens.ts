import { createHash, randomBytes } from 'node:crypto';
import type { Databases } from '../db/client';
import { findLiveSupportToken, insertSupportToken, listSupportTokens, revokeSupportToken, touchSupportToken, type SupportTokenListing } from '../db/stores/support-tokens';
import type { AuthenticatedActor, SupportActor, SupportRole } from '../domain/support';
import { rejected, type Rejected } from './result';

/** Every support token starts with this: a leaked one is found by grep and by secret scanners. */
export const SUPPORT_TOKEN_PREFIX = 'osp_';
const TOKEN_SHAPE = /^osp_[A-Za-z0-9_-]{43}$/;

/**
 * SHA-256, not a slow KDF: the token is 256 random bits (not a password a person chose), so
 * there is no dictionary to try and a fast hash is as strong as the token; a slow KDF would
 * only add its cost to every authenticated request.
 */
export const hashSupportToken = (token: string) => createHash('sha256').update(token).digest('hex');

export function looksLikeSupportToken(credential: string): boolean {
  return credential.startsWith(SUPPORT_TOKEN_PREFIX);
}

type Deps = { dbs: Pick<Databases, 'support'> };

/** Creates a person's token: the secret is in the answer once and never stored. */
export async function createSupportToken(
  { dbs }: Deps,
  input: { name: string; email?: string; roles: SupportRole[]; createdBy: SupportActor },
): Promise<{ token: string; identity: SupportTokenListing }> {
  const token = SUPPORT_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const identity = await insertSupportToken(dbs.support, {
    id: `spt_${randomBytes(12).toString('base64url')}`,
    name: input.name,
    email: input.email,
    roles: [...new Set(input.roles)],
    tokenHash: hashSupportToken(token),
    tokenHint: token.slice(0, SUPPORT_TOKEN_PREFIX.length + 4),
    createdBy: `${input.createdBy.name} (${input.createdBy.id})`,
  });
  return { token, identity };
}

/** The person a support token belongs to, if it is well formed, known and not revoked. */
export async function identifySupportToken({ dbs }: Deps, token: string): Promise<AuthenticatedActor | undefined> {
  if (!TOKEN_SHAPE.test(token)) return undefined;
  const row = await findLiveSupportToken(dbs.support, hashSupportToken(token));
  if (!row) return undefined;
  await touchSupportToken(dbs.support, row.id);
  return { id: row.id, name: row.name, roles: row.roles };
}

export async function revokeSupportTokenById({ dbs }: Deps, id: string): Promise<{ kind: 'revoked'; identity: SupportTokenListing } | Rejected> {
  const identity = await revokeSupportToken(dbs.support, id);
  return identity ? { kind: 'revoked', identity } : rejected('not_found', 'no such support token');
}

export const listSupportIdentities = ({ dbs }: Deps) => listSupportTokens(dbs.support);
