import { z } from 'zod';

const amount = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const productListQuerySchema = z
  .object({
    q: z.string().trim().min(1).max(200).optional(),
    category: z.string().min(1).max(100).optional(),
    minPrice: amount.optional(),
    maxPrice: amount.optional(),
    inStock: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
    sort: z.enum(['relevance', 'price_asc', 'price_desc', 'newest', 'name']).default('relevance'),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(500).optional(),
  })
  .strict()
  .refine((q) => q.minPrice === undefined || q.maxPrice === undefined || q.minPrice <= q.maxPrice, {
    message: 'minPrice must not exceed maxPrice',
    path: ['minPrice'],
  });

export const suggestQuerySchema = z.object({ q: z.string().trim().min(1).max(100) }).strict();

export const skuSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a sku: letters, digits, . _ -');

export const setInventoryBodySchema = z.object({ onHand: z.number().int().min(0).max(1_000_000_000) }).strict();
