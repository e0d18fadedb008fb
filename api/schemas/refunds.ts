import { z } from 'zod';
import { moneySchema } from './checkouts';
import { skuSchema } from './catalog';
import { noCardNumber } from './free-text';
import { documentAs, trimmedLength } from './json-schema';

/** A support reason: 1–500 characters once trimmed. */
export const reasonSchema = noCardNumber(z.string().trim().min(1).max(500)).meta({ pattern: trimmedLength(500), maxLength: undefined, minLength: undefined });

export const refundBodySchema = z
  .object({
    amount: documentAs(
      moneySchema.refine((m) => m.amount > 0, 'a refund amount must be positive'),
      {
        type: 'object',
        required: ['amount', 'currency'],
        additionalProperties: false,
        properties: { amount: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } },
      },
    ).optional(),
    lines: z
      .array(z.object({ sku: skuSchema, quantity: z.number().int().min(1).max(10_000) }).strict())
      .min(1)
      .max(100)
      .optional(),
    restock: z.boolean().default(false),
    reason: reasonSchema,
  })
  .strict()
  // amount only = money only: no line is refunded, so there is nothing to restock
  .refine((b) => !(b.restock && b.amount && !b.lines), { message: 'restock needs lines (or a full refund: neither amount nor lines)', path: ['restock'] })
  .meta({ not: { required: ['restock', 'amount'], properties: { restock: { const: true } }, not: { required: ['lines'] } } });

export type RefundBody = z.infer<typeof refundBodySchema>;
