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

/** GET /unsubscribe: the signed token of a reminder's link. */
export const unsubscribeQuerySchema = z.object({ token: z.string().min(1).max(1000) }).strict();
