import { z } from 'zod';
import { CARD_NUMBER_MESSAGE, containsCardNumber } from '../../domain/card-number';
import { BLANK_IS_ABSENT, documentAs, ISO_CURRENCIES, NOT_BLANK_PLAIN, PLAIN, trimmedLength } from './json-schema';

/**
 * Free text that reaches PostgreSQL: it cannot store NUL, and control characters are never
 * meaningful in a search, a category or an id, so they are a 400, not a failed query.
 */
export const plainText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters')
    .refine(...cardRefinement)
    .meta({ pattern: PLAIN });

/** Free text holds no card number (domain/card-number.ts). */
const cardRefinement = [(s: string) => !containsCardNumber(s), CARD_NUMBER_MESSAGE] as const;

/** plainText that must keep a character once trimmed. */
const requiredText = (max: number) => documentAs(plainText(max), { type: 'string', maxLength: max, pattern: NOT_BLANK_PLAIN });

/** A query parameter sent empty (`?q=&limit=`) is the same as one left out. */
const optional = <S extends z.ZodType>(schema: S) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional()).meta({ [BLANK_IS_ABSENT]: true });

/** Plain decimal digits only: no signs, exponents, hex or fractions sneaking through Number(). */
const wholeNumber = documentAs(
  z
  .string()
  .regex(/^\d{1,16}$/, 'a whole number')
  .transform(Number)
  .pipe(z.number().int().max(Number.MAX_SAFE_INTEGER)),
  { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
);

export const productListQuerySchema = z
  .object({
    q: optional(plainText(200).transform((s) => s.trim())),
    category: optional(plainText(100)),
    minPrice: optional(wholeNumber),
    maxPrice: optional(wholeNumber),
    inStock: optional(z.enum(['true', 'false']).transform((v) => v === 'true')),
    sort: optional(z.enum(['relevance', 'price_asc', 'price_desc', 'newest', 'name'])).transform((v) => v ?? 'relevance'),
    limit: optional(documentAs(wholeNumber.pipe(z.number().min(1).max(100)), { type: 'integer', minimum: 1, maximum: 100 })).transform((v) => v ?? 20),
    cursor: optional(z.string().max(2_000)),
  })
  .strict()
  .refine((q) => q.minPrice === undefined || q.maxPrice === undefined || q.minPrice <= q.maxPrice, {
    message: 'minPrice must not exceed maxPrice',
    path: ['minPrice'],
  });

/** GET /products/:sku/recommendations?limit= (1–50, default 10). */
export const recommendationsQuerySchema = z
  .object({
    limit: optional(documentAs(wholeNumber.pipe(z.number().min(1).max(50)), { type: 'integer', minimum: 1, maximum: 50 })).transform((v) => v ?? 10),
  })
  .strict();

export const suggestQuerySchema = z.object({ q: requiredText(100).transform((s) => s.trim()).pipe(z.string().min(1)) }).strict();

export const skuSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a sku: letters, digits, . _ -');

/** Why an operations change was made (the audit's reason): 1–500 characters once trimmed. */
const changeReason = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .refine((s) => !containsCardNumber(s), CARD_NUMBER_MESSAGE)
  .meta({ pattern: trimmedLength(500), maxLength: undefined, minLength: undefined });

/**
 * PUT /admin/inventory/:sku. `reason` is recorded in the stock audit: required of a person's
 * support token, optional for ADMIN_API_TOKEN (API.md's body is `{ onHand }`: old clients keep working).
 */
export const setInventoryBodySchema = z.object({ onHand: z.number().int().min(0).max(1_000_000_000), reason: changeReason.optional() }).strict();

/** DELETE /admin/products/:sku: why, optionally (no body counts as {}). */
export const deactivateProductBodySchema = z.object({ reason: changeReason.optional() }).strict();

/** ISO 4217 codes as the runtime's ICU knows them. */
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

const attributeKey = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, 'an attribute name: a letter, then letters, digits or _');

/** PUT /admin/products/:sku — the whole product (a PUT replaces; omitted optionals are cleared). */
export const productBodySchema = z
  .object({
    name: requiredText(200)
      .transform((s) => s.trim())
      .pipe(z.string().min(1, 'required')),
    description: z
      .string()
      .max(5_000)
      .refine((s) => !s.includes('\u0000'), 'must not contain NUL')
      .refine(...cardRefinement)
      .meta({ pattern: '^[^\\u0000]*$' })
      .default(''),
    category: requiredText(100)
      .transform((s) => s.trim())
      .pipe(z.string().min(1))
      .nullable()
      .optional(),
    attributes: z
      .record(attributeKey, z.union([plainText(200), z.number().finite(), z.boolean()]))
      .refine((a) => Object.keys(a).length <= 50, 'at most 50 attributes')
      .meta({ maxProperties: 50 })
      .default({}),
    price: z
      .object({
        amount: z.number().int('integer minor units (cents)').min(0).max(1_000_000_000_00),
        currency: z
          .string()
          .refine((c) => CURRENCIES.has(c), 'an ISO 4217 currency code, upper case (e.g. USD)')
          .meta({ enum: ISO_CURRENCIES }),
      })
      .strict(),
    active: z.boolean().default(true),
    /** Why (recorded in the catalog audit with the actor). */
    reason: changeReason.optional(),
  })
  .strict();
