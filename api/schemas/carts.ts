import { z } from 'zod';
import { ACCOUNT_ID_IN_BODY, ACCOUNT_ID_PATTERN, isAccountId } from '../../domain/ownership';
import { plainText } from './catalog';
import { emailSchema } from './free-text';
import { ISO_CURRENCIES, PLAIN } from './json-schema';

/** ISO 4217 codes as the runtime's ICU knows them (all three upper-case letters). */
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export const createCartBodySchema = z
  .object({
    email: emailSchema().optional(),
    customerId: plainText(100).pipe(z.string().min(1)).refine((v) => !isAccountId(v), ACCOUNT_ID_IN_BODY).meta({ type: 'string', minLength: 1, maxLength: 100, pattern: PLAIN, not: { pattern: ACCOUNT_ID_PATTERN } }).optional(),
    currency: z
      .string()
      .refine((c) => CURRENCIES.has(c), 'an ISO 4217 currency code, upper case (e.g. USD)')
      .meta({ enum: ISO_CURRENCIES })
      .default('USD'),
  })
  .strict();

export const cartIdSchema = z.string().regex(/^cart_[A-Za-z0-9_-]{22}$/, 'a cart id');

export function setLineBodySchema(maxQuantity: number) {
  return z.object({ quantity: z.number().int().min(0).max(maxQuantity) }).strict();
}
