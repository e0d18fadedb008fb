import { z } from 'zod';
import { emailSchema, noCardNumber } from './free-text';
import { reasonSchema } from './refunds';

/** Order and checkout ids in a path: opaque, 1–100 characters (no control character reaches a route). */
export const orderIdSchema = z.string().min(1).max(100);
export const checkoutIdSchema = z.string().min(1).max(100);

/** GET /orders (support): by email or customer id, at least one of them. */
export const ordersQuerySchema = z
  .object({ email: emailSchema().optional(), customerId: noCardNumber(z.string().min(1).max(100)).optional() })
  .refine((q) => q.email !== undefined || q.customerId !== undefined, { message: 'give email or customerId' })
  .meta({ anyOf: [{ required: ['email'] }, { required: ['customerId'] }] });

/** POST /admin/orders/:orderId/cancel (no body counts as {}). */
export const cancelBodySchema = z.object({ reason: reasonSchema }).strict();

/** POST /admin/orders/:orderId/retry: why, optionally (no body, as API.md's clients send, counts as {}). */
export const retryBodySchema = z.object({ reason: reasonSchema.optional() }).strict();

/** GET /unsubscribe: the signed token of a reminder's link (links mailed before one-click unsubscribe). */
export const unsubscribeQuerySchema = z.object({ token: z.string().min(1).max(1000) }).strict();

/** /unsubscribe/{token}: email.expiry.signature, base64url and base 36 (db/stores/unsubscribe.ts). */
export const unsubscribeTokenSchema = z.string().regex(/^[A-Za-z0-9_-]{1,700}\.[0-9a-z]{1,10}\.[A-Za-z0-9_-]{43}$/, 'an unsubscribe token');
