/**
 * Who may see a cart, a checkout, an order or its refunds. A customer account's id is
 * `cus_` + 22 base64url characters (128 random bits), and only a verified access token can put
 * one on a cart (api/customer-auth.ts): a thing whose customerId is an account id is that
 * customer's. Anything else — no customerId, or a free-text label a guest sent before accounts
 * existed — is a guest's, and its id alone is the capability, as it always was.
 */
export const ACCOUNT_ID_PATTERN = '^cus_[A-Za-z0-9_-]{22}$';
const ACCOUNT_ID = new RegExp(ACCOUNT_ID_PATTERN);

/** Why a body's customerId may not be an account id: only an access token names an account. */
export const ACCOUNT_ID_IN_BODY = 'an account id: a customer account is named by its access token (Authorization: Bearer), never by customerId';

export function isAccountId(id: unknown): id is string {
  return typeof id === 'string' && ACCOUNT_ID.test(id);
}

/** The account that owns a thing with this customerId, or undefined for a guest's. */
export function ownerOf(customerId: string | null | undefined): string | undefined {
  return isAccountId(customerId) ? customerId : undefined;
}

/**
 * Whether `viewer` (the customer of a valid access token, or undefined without one) may see a
 * thing with this customerId: a guest's, anyone holding its id; an account's, that account
 * only. A refusal is answered as not found (404), never 403: an id says nothing of its owner.
 */
export function mayAccess(customerId: string | null | undefined, viewer: string | undefined): boolean {
  const owner = ownerOf(customerId);
  return owner === undefined || owner === viewer;
}
