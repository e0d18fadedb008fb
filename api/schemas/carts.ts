import { z } from 'zod';

export const createCartBodySchema = z
  .object({
    email: z.string().email().max(254).optional(),
    customerId: z.string().min(1).max(100).optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 code, upper case').default('USD'),
  })
  .strict();

export const cartIdSchema = z.string().regex(/^cart_[A-Za-z0-9_-]{22}$/, 'a cart id');

export function setLineBodySchema(maxQuantity: number) {
  return z.object({ quantity: z.number().int().min(0).max(maxQuantity) }).strict();
}
