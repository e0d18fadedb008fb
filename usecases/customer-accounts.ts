import type { CartStore } from '../db/stores/cart';
import { createCustomer, findCustomerByEmail, getCustomer, setPasswordHash } from '../db/stores/customers';
import type { LoginThrottle } from '../db/stores/login-throttle';
import type { RefreshTokens } from '../db/stores/refresh-tokens';
import { randomId } from '../db/ids';
import { claimCart } from './claim-cart';
import { signAccessToken } from './customer-tokens';
import type { UseCaseDeps } from './deps';
import { decoyHash, hashPassword, verifyPassword } from './passwords';
import { rejected, type Rejected } from './result';

export type CustomerDeps = UseCaseDeps & { carts: CartStore; refreshTokens: RefreshTokens; loginThrottle: LoginThrottle };

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds the access token lives. */
  expiresIn: number;
}

async function tokensFor({ config }: Pick<CustomerDeps, 'config'>, customerId: string, refreshToken: string): Promise<TokenPair> {
  return {
    accessToken: await signAccessToken(config.customers, customerId),
    refreshToken,
    tokenType: 'Bearer',
    expiresIn: config.customers.accessTokenTtlSeconds,
  };
}

/** Looked up for an unknown email, so that it costs the same queries as a known one. */
const NO_CUSTOMER = `cus_${'0'.repeat(22)}`;

/** POST /customers: a new account (the email unique in any case); throttled per client IP (429). */
export async function registerCustomer(
  { dbs, loginThrottle }: Pick<CustomerDeps, 'dbs' | 'loginThrottle'>,
  input: { email: string; password: string; ip: string },
): Promise<{ kind: 'registered'; customer: { id: string; email: string; createdAt: string } } | Rejected> {
  const admitted = await loginThrottle.admitRegistration(input.ip);
  if (!admitted.ok) return rejected('rate_limited', 'too many registrations: try again later', { retryAfterSeconds: admitted.retryAfterSeconds });
  const created = await createCustomer(dbs.customer, { id: randomId('cus'), email: input.email, passwordHash: await hashPassword(input.password) });
  if (created === 'email_taken') return rejected('email_taken', 'an account with this email exists');
  return { kind: 'registered', customer: { id: created.id, email: created.email, createdAt: created.createdAt.toISOString() } };
}

/**
 * POST /auth/login: throttled per client IP and per account (429 with Retry-After); an unknown
 * email and a wrong password answer the same 401 after the same scrypt work. With `cartId`, that
 * guest cart is claimed into the account (claim-cart.ts) before any token is issued.
 */
export async function logIn(
  deps: CustomerDeps,
  input: { email: string; password: string; cartId?: string; ip: string },
): Promise<{ kind: 'logged_in'; tokens: TokenPair; customerId: string; cartId?: string } | Rejected> {
  const admitted = await deps.loginThrottle.admit(input.ip, input.email);
  if (!admitted.ok) return rejected('rate_limited', 'too many login attempts: try again later', { retryAfterSeconds: admitted.retryAfterSeconds });
  const found = await findCustomerByEmail(deps.dbs.customer, input.email);
  // the password generation is read before the hash is (read again, by id): a password change
  // that lands in between bumps it, and the session below is then refused
  const generation = await deps.refreshTokens.passwordGeneration(found?.id ?? NO_CUSTOMER);
  const customer = found ? await getCustomer(deps.dbs.customer, found.id) : await getCustomer(deps.dbs.customer, NO_CUSTOMER);
  const matches = await verifyPassword(input.password, customer?.passwordHash ?? (await decoyHash()));
  if (!customer || !matches) return rejected('invalid_credentials', 'wrong email or password');
  await deps.loginThrottle.succeeded(input.email);
  // the session first (refused if the password changed meanwhile), then the claim; a refused
  // claim ends the session it would have come with
  const refreshToken = await deps.refreshTokens.issue(customer.id, generation);
  if (!refreshToken) return rejected('invalid_credentials', 'wrong email or password');
  let cartId: string | undefined;
  if (input.cartId) {
    const claimed = await claimCart(deps, input.cartId, customer.id);
    if (claimed.kind === 'rejected') {
      await deps.refreshTokens.revokeFamily(refreshToken);
      return claimed;
    }
    cartId = claimed.cartId;
  }
  return { kind: 'logged_in', tokens: await tokensFor(deps, customer.id, refreshToken), customerId: customer.id, ...(cartId ? { cartId } : {}) };
}

/** POST /auth/refresh: the next token of the family; a reused one revokes the family. */
export async function refreshTokens(deps: CustomerDeps, refreshToken: string): Promise<{ kind: 'refreshed'; tokens: TokenPair } | Rejected> {
  const rotated = await deps.refreshTokens.rotate(refreshToken);
  if (rotated.kind === 'reused') {
    deps.logger.warn({ customerId: rotated.customerId }, 'a refresh token was used twice: its family is revoked');
    return rejected('refresh_token_reused', 'this refresh token was used before: the session is revoked, log in again');
  }
  if (rotated.kind === 'invalid') return rejected('refresh_token_invalid', 'unknown, expired or revoked refresh token');
  return { kind: 'refreshed', tokens: await tokensFor(deps, rotated.customerId, rotated.token) };
}

/** POST /auth/logout: the refresh token's family ends (the access token lives out its short TTL). */
export async function logOut(deps: CustomerDeps, refreshToken: string): Promise<{ kind: 'logged_out' }> {
  await deps.refreshTokens.revokeFamily(refreshToken);
  return { kind: 'logged_out' };
}

/** POST /me/password: needs the current password; every refresh token of the account ends. */
export async function changePassword(
  deps: CustomerDeps,
  customerId: string,
  input: { currentPassword: string; newPassword: string },
): Promise<{ kind: 'changed' } | Rejected> {
  const customer = await getCustomer(deps.dbs.customer, customerId);
  if (!customer) return rejected('not_found', 'no such customer');
  // each check of the current password counts against the account, as a login's does
  const admitted = await deps.loginThrottle.admitAccount(customer.email);
  if (!admitted.ok) return rejected('rate_limited', 'too many password attempts: try again later', { retryAfterSeconds: admitted.retryAfterSeconds });
  if (!(await verifyPassword(input.currentPassword, customer.passwordHash))) return rejected('invalid_credentials', 'the current password is wrong');
  await deps.loginThrottle.succeeded(customer.email);
  await setPasswordHash(deps.dbs.customer, customerId, await hashPassword(input.newPassword), new Date());
  // after the new hash is written, before the sessions end: a login that verified the old
  // password meanwhile issues no token (refresh-tokens.ts)
  await deps.refreshTokens.bumpPasswordGeneration(customerId);
  await deps.refreshTokens.revokeAll(customerId);
  return { kind: 'changed' };
}
