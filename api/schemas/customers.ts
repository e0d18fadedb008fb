import { z } from 'zod';
import { cartIdSchema } from './carts';

/** A password: at least 10 characters (NIST SP 800-63B asks at least 8), at most 200 (scrypt's input is hashed, not truncated). */
export const PASSWORD_MIN_LENGTH = 10;
const newPassword = z.string().min(PASSWORD_MIN_LENGTH, `at least ${PASSWORD_MIN_LENGTH} characters`).max(200);
/** A password to check: any length up to the maximum (a short one simply does not match). */
const givenPassword = z.string().min(1).max(200);
const email = z.string().email().max(254);

/** POST /customers */
export const registerBodySchema = z.object({ email, password: newPassword }).strict();

/** POST /auth/login: with cartId, that guest cart is claimed into the account. */
export const loginBodySchema = z.object({ email, password: givenPassword, cartId: cartIdSchema.optional() }).strict();

/** POST /auth/refresh and POST /auth/logout */
export const refreshBodySchema = z.object({ refreshToken: z.string().min(1).max(200) }).strict();

/** POST /me/password */
export const changePasswordBodySchema = z.object({ currentPassword: givenPassword, newPassword }).strict();

/** GET /me/orders: a page of at most `limit` (1–100, default 20), from `cursor` (the last page's nextCursor). */
export const meOrdersQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20).meta({ type: 'integer', minimum: 1, maximum: 100, default: 20 }),
    cursor: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'a nextCursor of a previous page').optional(),
  })
  .strict();

export const customerSchema = z.looseObject({ id: z.string(), email: z.string(), createdAt: z.string() }).meta({ id: 'Customer' });

export const tokenPairSchema = z
  .looseObject({
    accessToken: z.string().describe('a JWT (EdDSA or ES256, kid in its header): send it as Authorization: Bearer'),
    refreshToken: z.string().describe('opaque; single use: POST /auth/refresh answers the next one'),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().describe("the access token's lifetime, seconds"),
    customerId: z.string().optional(),
    cartId: z.string().optional().describe('login with cartId: the cart now holding the claimed lines'),
  })
  .meta({ id: 'TokenPair' });
