import { z } from 'zod';
import { moneySchema } from './checkouts';
import { skuSchema } from './catalog';

export const refundBodySchema = z
  .object({
    amount: moneySchema.refine((m) => m.amount > 0, 'a refund amount must be positive').optional(),
    lines: z
      .array(z.object({ sku: skuSchema, quantity: z.number().int().min(1).max(10_000) }).strict())
      .min(1)
      .max(100)
      .optional(),
    restock: z.boolean().default(false),
    reason: z.string().trim().min(1).max(500),
  })
  .strict()
  // amount only = money only: no line is refunded, so there is nothing to restock
  .refine((b) => !(b.restock && b.amount && !b.lines), { message: 'restock needs lines (or a full refund: neither amount nor lines)', path: ['restock'] });

export type RefundBody = z.infer<typeof refundBodySchema>;
