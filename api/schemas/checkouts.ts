import { z } from 'zod';
import { emailSchema, noCardNumber } from './free-text';
import { ACCOUNT_ID_IN_BODY, ACCOUNT_ID_PATTERN, isAccountId } from '../../domain/ownership';
import { PAYMENT_TOKEN_DESCRIPTION, PAYMENT_TOKEN_PATTERN } from '../../domain/payment-token';

export const moneySchema = z
  .object({
    amount: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    currency: z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 code, upper case'),
  })
  .strict();

/** Gateway tokens or payment-method ids only: a card number never reaches the service. */
export const paymentTokenSchema = z
  .string()
  .regex(PAYMENT_TOKEN_PATTERN, PAYMENT_TOKEN_DESCRIPTION);

export const checkoutBodySchema = z
  .object({
    cartId: z.string().min(1).max(100),
    email: emailSchema(),
    paymentToken: paymentTokenSchema,
    customerId: noCardNumber(z.string().min(1).max(100)).refine((v) => !isAccountId(v), ACCOUNT_ID_IN_BODY).meta({ not: { pattern: ACCOUNT_ID_PATTERN } }).optional(),
    shippingAddress: z.record(noCardNumber(z.string().max(50)), noCardNumber(z.string().max(300))).optional(),
    expectedTotal: moneySchema.optional(),
  })
  .strict();

export type CheckoutBody = z.infer<typeof checkoutBodySchema>;

/** Idempotency keys: printable ASCII, 1–255 characters. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/);

/** POST /local-gateway/authenticate (dev and tests): the customer's 3-D Secure step on the local gateway. */
export const localGatewayStepSchema = z.strictObject({
  clientSecret: z.string().min(1).max(300),
  outcome: z.enum(['pass', 'fail']).default('pass'),
});
