import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis';

/**
 * Refresh tokens: opaque (`rt_<customer id>.<256 random bits>`), kept in Redis only as the
 * SHA-256 of the secret part, with a TTL. Every token belongs to a family (one login); using a
 * token marks it used and issues the family's next one. A token used twice is a stolen one:
 * the second use revokes its whole family. Logout revokes a family; a password change every
 * family of the customer. All keys of one customer share a hash tag ({customer id}), so each
 * script runs on one node of a Redis Cluster (the family keys a script finds in a token are
 * built from a prefix it is given: same slot, same node).
 *
 *   customer:{cus_…}:rt:<sha256>     "<family>|live" or "<family>|used"   (TTL: the token's)
 *   customer:{cus_…}:family:<family> "1" while the family lives           (TTL: renewed on rotation)
 *   customer:{cus_…}:families        set of the customer's families        (for revoke-all)
 *   customer:{cus_…}:password-gen    the password generation: bumped by each password change
 *
 * A login reads the password generation before it reads and verifies the password hash, and its
 * first token is issued only if the generation is still that one: a login with the old
 * password that overlaps a password change gets no session (the change bumps the generation
 * after writing the new hash and before revoking every family).
 */
const tokenKey = (customerId: string, hash: string) => `customer:{${customerId}}:rt:${hash}`;
const familyKey = (customerId: string, family: string) => `customer:{${customerId}}:family:${family}`;
const familiesKey = (customerId: string) => `customer:{${customerId}}:families`;
const generationKey = (customerId: string) => `customer:{${customerId}}:password-gen`;

const TOKEN = /^rt_(cus_[A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * KEYS: token, families set, family, password generation. ARGV: family, ttl, the generation the
 * login read ('' : any). A new family and its first token (1), or 0 when the password changed since.
 */
const ISSUE = `
if ARGV[3] ~= '' and (redis.call('GET', KEYS[4]) or '0') ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. '|live', 'EX', tonumber(ARGV[2]))
redis.call('SET', KEYS[3], '1', 'EX', tonumber(ARGV[2]))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
return 1
`;

/**
 * KEYS: the used token, the next token, the families set. ARGV: key prefix of families, ttl.
 * 'invalid' (no such token, or its family was revoked), 'reused' (the family is revoked now),
 * or 'ok' (the old token is used, the next one lives).
 */
const ROTATE = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 'invalid' end
local sep = string.find(raw, '|', 1, true)
local family, state = string.sub(raw, 1, sep - 1), string.sub(raw, sep + 1)
local fkey = ARGV[1] .. family
if redis.call('EXISTS', fkey) == 0 then return 'invalid' end
if state ~= 'live' then
  redis.call('DEL', fkey)
  redis.call('SREM', KEYS[3], family)
  return 'reused'
end
redis.call('SET', KEYS[1], family .. '|used', 'KEEPTTL')
redis.call('SET', KEYS[2], family .. '|live', 'EX', tonumber(ARGV[2]))
redis.call('SET', fkey, '1', 'EX', tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[2]))
return 'ok'
`;

/** KEYS: the token, the families set. ARGV: key prefix of families. Revokes the token's family. */
const REVOKE_FAMILY = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local family = string.sub(raw, 1, string.find(raw, '|', 1, true) - 1)
redis.call('SREM', KEYS[2], family)
return redis.call('DEL', ARGV[1] .. family)
`;

/** KEYS: the families set. ARGV: key prefix of families. Revokes every family of the customer. */
const REVOKE_ALL = `
local families = redis.call('SMEMBERS', KEYS[1])
for _, family in ipairs(families) do redis.call('DEL', ARGV[1] .. family) end
redis.call('DEL', KEYS[1])
return #families
`;

export type RotateResult = { kind: 'rotated'; customerId: string; token: string } | { kind: 'invalid' } | { kind: 'reused'; customerId: string };

export class RefreshTokens {
  constructor(
    private readonly redis: RedisClient,
    private readonly ttlSeconds: number,
  ) {}

  private static mint(customerId: string): { token: string; hash: string } {
    const secret = randomBytes(32).toString('base64url');
    return { token: `rt_${customerId}.${secret}`, hash: sha256(secret) };
  }

  /**
   * A new family (a login) and its first token; with `generation` (what passwordGeneration
   * answered before the password was verified), null when the password changed since.
   */
  async issue(customerId: string, generation?: string): Promise<string | null> {
    const family = randomBytes(16).toString('base64url');
    const { token, hash } = RefreshTokens.mint(customerId);
    const keys = [tokenKey(customerId, hash), familiesKey(customerId), familyKey(customerId, family), generationKey(customerId)];
    const issued = await this.redis.eval(ISSUE, keys.length, ...keys, family, String(this.ttlSeconds), generation ?? '');
    return Number(issued) === 1 ? token : null;
  }

  /** The customer's password generation: read by a login before it verifies the password. */
  async passwordGeneration(customerId: string): Promise<string> {
    return (await this.redis.get(generationKey(customerId))) ?? '0';
  }

  /** A password change: logins that verified the old password issue no token from now on. */
  async bumpPasswordGeneration(customerId: string): Promise<void> {
    // kept longer than any login takes; once expired it reads '0' again, which only refuses a login in flight
    await this.redis.pipeline().incr(generationKey(customerId)).expire(generationKey(customerId), Math.max(this.ttlSeconds, 3600)).exec();
  }

  /** Uses a token: the family's next token, or why not (a second use revokes the family). */
  async rotate(token: string): Promise<RotateResult> {
    const match = TOKEN.exec(token);
    if (!match) return { kind: 'invalid' };
    const [, customerId, secret] = match as unknown as [string, string, string];
    const next = RefreshTokens.mint(customerId);
    const keys = [tokenKey(customerId, sha256(secret)), tokenKey(customerId, next.hash), familiesKey(customerId)];
    const outcome = await this.redis.eval(ROTATE, keys.length, ...keys, familyKey(customerId, ''), String(this.ttlSeconds));
    if (outcome === 'ok') return { kind: 'rotated', customerId, token: next.token };
    if (outcome === 'reused') return { kind: 'reused', customerId };
    return { kind: 'invalid' };
  }

  /** Logout: the token's family ends (true), or there was no live token (false). */
  async revokeFamily(token: string): Promise<boolean> {
    const match = TOKEN.exec(token);
    if (!match) return false;
    const [, customerId, secret] = match as unknown as [string, string, string];
    const removed = await this.redis.eval(REVOKE_FAMILY, 2, tokenKey(customerId, sha256(secret)), familiesKey(customerId), familyKey(customerId, ''));
    return Number(removed) > 0;
  }

  /** Password change: every refresh token of the customer ends. */
  async revokeAll(customerId: string): Promise<void> {
    await this.redis.eval(REVOKE_ALL, 1, familiesKey(customerId), familyKey(customerId, ''));
  }
}
