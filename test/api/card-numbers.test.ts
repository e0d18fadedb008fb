import fc from 'fast-check';
import type { z } from 'zod';
import { AppError } from '../../api/errors';
import { createCartBodySchema } from '../../api/schemas/carts';
import { productBodySchema, productListQuerySchema, suggestQuerySchema } from '../../api/schemas/catalog';
import { checkoutBodySchema } from '../../api/schemas/checkouts';
import { cancelBodySchema, ordersQuerySchema } from '../../api/schemas/orders';
import { refundBodySchema } from '../../api/schemas/refunds';
import { parse } from '../../api/validate';
import { containsCardNumber, luhnValid } from '../../domain/card-number';
import { createTestDeps, startTestApp, type TestDeps } from '../helpers/app';

/**
 * A card number pasted into any free-text field is refused (400 invalid_request naming the
 * field), however it is written; ordinary text with digits passes.
 */

/** Test cards' shapes: a network prefix, a length, how the digits are grouped when written. */
const NETWORKS: { prefix: string; length: number; groups: number[] }[] = [
  { prefix: '4', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '4', length: 13, groups: [4, 4, 4, 1] },
  { prefix: '51', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '2221', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '34', length: 15, groups: [4, 6, 5] },
  { prefix: '37', length: 15, groups: [4, 6, 5] },
  { prefix: '6011', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '3530', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '36', length: 14, groups: [4, 6, 4] },
  { prefix: '62', length: 19, groups: [4, 4, 4, 4, 3] },
];

function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return `${body}${d}`;
  throw new Error('unreachable');
}

const cardNumber = fc
  .record({
    network: fc.constantFrom(...NETWORKS),
    middle: fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 18, maxLength: 18 }),
    separator: fc.constantFrom('', ' ', '-'),
  })
  .map(({ network, middle, separator }) => {
    const digits = withCheckDigit(`${network.prefix}${middle}`.slice(0, network.length - 1));
    if (!separator) return digits;
    let at = 0;
    return network.groups.map((g) => digits.slice(at, (at += g))).join(separator);
  });

const word = fc.constantFrom('please', 'deliver', 'to', 'the', 'back door', 'Rue de Rivoli', 'Flat', 'c/o', 'ref', 'thanks!', 'Zoë', '東京');
const ordinaryNumber = fc.oneof(
  fc.constantFrom('+44 20 7946 0958', '555-123-4567', '(555) 123-4567', '+33 1 42 68 53 00', '+1 415 555 2671'),
  fc.integer({ min: 1, max: 99_999 }).map((n) => `ORD-2026-${String(n).padStart(6, '0')}`),
  fc.integer({ min: 1, max: 99_999_999 }).map((n) => `#${n}`),
  fc.constantFrom('SW1A 1AA', '10115', '75001', '8001', '94103-1234', '2026-11-25'),
  fc.integer({ min: 1, max: 9_999 }).map(String),
);
/** Sentences of words and everyday numbers, as customers write them (commas between the parts). */
const ordinaryText = fc.array(fc.oneof(word, ordinaryNumber), { minLength: 1, maxLength: 6 }).map((parts) => parts.join(', '));
const around = fc.tuple(fc.array(word, { maxLength: 3 }), fc.array(word, { maxLength: 3 }));

/** Each free-text field: its schema, a valid input with the text placed in that field, and the field's name in the error. */
const validProduct = { name: 'Mug', price: { amount: 1200, currency: 'USD' } };
const FIELDS: { name: string; schema: z.ZodType; input: (text: string) => unknown; field: string }[] = [
  { name: 'cart customerId', schema: createCartBodySchema, input: (t) => ({ customerId: t.slice(0, 100) }), field: 'customerId' },
  { name: 'checkout customerId', schema: checkoutBodySchema, input: (t) => ({ cartId: 'cart_x', email: 'a@example.com', paymentToken: 'tok_visa', customerId: t.slice(0, 100) }), field: 'customerId' },
  { name: 'checkout shippingAddress line', schema: checkoutBodySchema, input: (t) => ({ cartId: 'cart_x', email: 'a@example.com', paymentToken: 'tok_visa', shippingAddress: { line1: t } }), field: 'shippingAddress.line1' },
  { name: 'product name', schema: productBodySchema, input: (t) => ({ ...validProduct, name: t }), field: 'name' },
  { name: 'product description', schema: productBodySchema, input: (t) => ({ ...validProduct, description: t }), field: 'description' },
  { name: 'product category', schema: productBodySchema, input: (t) => ({ ...validProduct, category: t }), field: 'category' },
  { name: 'product attribute', schema: productBodySchema, input: (t) => ({ ...validProduct, attributes: { note: t } }), field: 'attributes.note' },
  { name: 'refund reason', schema: refundBodySchema, input: (t) => ({ reason: t }), field: 'reason' },
  { name: 'cancel reason', schema: cancelBodySchema, input: (t) => ({ reason: t }), field: 'reason' },
  { name: 'product search q', schema: productListQuerySchema, input: (t) => ({ q: t }), field: 'q' },
  { name: 'suggest q', schema: suggestQuerySchema, input: (t) => ({ q: t.slice(0, 100) }), field: 'q' },
  { name: 'orders customerId', schema: ordersQuerySchema, input: (t) => ({ customerId: t.slice(0, 100) }), field: 'customerId' },
];

function refusal(schema: z.ZodType, input: unknown): { field: string; message: string }[] | undefined {
  try {
    parse(schema, input);
    return undefined;
  } catch (err) {
    if (err instanceof AppError && err.code === 'invalid_request') return err.details as { field: string; message: string }[];
    throw err;
  }
}

describe('card numbers in free text', () => {
  it.each(FIELDS)('$name: a card number in the text, however written, is refused naming the field', ({ schema, input, field }) => {
    fc.assert(
      fc.property(cardNumber, around, (card, [before, after]) => {
        const text = [...before, card, ...after].join(' ').slice(0, 100);
        // the card must survive the field's length cut: put it first when the words are long
        const placed = text.includes(card) ? text : card;
        const details = refusal(schema, input(placed));
        expect(details).toEqual(expect.arrayContaining([expect.objectContaining({ field, message: expect.stringContaining('card number') })]));
      }),
      { numRuns: 60 },
    );
  });

  it.each(FIELDS)('$name: ordinary text with phone numbers, order numbers and postcodes passes', ({ schema, input }) => {
    fc.assert(
      fc.property(ordinaryText, (text) => {
        expect(refusal(schema, input(text.slice(0, 100)))).toBeUndefined();
      }),
      { numRuns: 60 },
    );
  });

  it('an email whose local part is a card number is refused', () => {
    expect(containsCardNumber('4111111111111111@example.com')).toBe(true);
    expect(refusal(createCartBodySchema, { email: '4111111111111111@example.com' })).toEqual([expect.objectContaining({ field: 'email' })]);
    expect(refusal(createCartBodySchema, { email: 'order-100234@example.com' })).toBeUndefined();
  });

  describe('over HTTP', () => {
    let deps: TestDeps;
    let app: Awaited<ReturnType<typeof startTestApp>>;
    beforeAll(async () => {
      deps = await createTestDeps();
      app = await startTestApp(deps);
    });
    afterAll(async () => {
      await app?.close();
      await deps?.close();
    });

    it('a card in a checkout\'s shipping address is a 400 invalid_request naming the field, before any cart is read', async () => {
      const res = await fetch(`${app.baseUrl}/checkouts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Idempotency-Key': 'card-in-address' },
        body: JSON.stringify({ cartId: 'cart_missing', email: 'a@example.com', paymentToken: 'tok_visa', shippingAddress: { line1: 'Flat 2, card 4242 4242 4242 4242' } }),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; details: { field: string }[] } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.details).toEqual([expect.objectContaining({ field: 'shippingAddress.line1' })]);
    });

    it('a cart with a card as its customer id is refused; one with a phone number in it is made', async () => {
      const post = (customerId: string) => fetch(`${app.baseUrl}/carts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customerId }) });
      expect((await post('5555-5555-5555-4444')).status).toBe(400);
      expect((await post('tel 555-123-4567')).status).toBe(201);
    });
  });
});
