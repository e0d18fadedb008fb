import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../errors';

/** The answers' shapes (shared/API.md), for the OpenAPI document; fields may be added. */
const money = z.object({ amount: z.number().int().min(0), currency: z.string() }).meta({ id: 'Money' });
const line = z.looseObject({ sku: z.string(), name: z.string(), quantity: z.number().int(), unitPrice: money, lineTotal: money }).meta({ id: 'CartLine' });

export const productSchema = z
  .looseObject({ sku: z.string(), name: z.string(), description: z.string(), category: z.string().nullable().optional(), attributes: z.record(z.string(), z.unknown()).optional(), price: money, available: z.number().int() })
  .meta({ id: 'Product' });
export const adminProductSchema = productSchema.extend({ active: z.boolean(), version: z.number().int() });

export const cartSchema = z
  .looseObject({
    id: z.string(),
    currency: z.string(),
    email: z.string().optional(),
    customerId: z.string().optional(),
    lines: z.array(line),
    total: money,
    unavailable: z.array(z.string()).optional().describe('skus in the cart that are no longer sold'),
    updatedAt: z.string(),
  })
  .meta({ id: 'Cart' });

export const checkoutSchema = z
  .looseObject({
    checkoutId: z.string(),
    status: z.enum(['pending', 'placed', 'failed']),
    orderId: z.string().optional(),
    total: money.optional(),
    failure: z.looseObject({ code: z.string(), message: z.string() }).optional(),
    step: z.string().optional(),
    nextAction: z
      .looseObject({ type: z.literal('use_stripe_sdk'), clientSecret: z.string() })
      .optional()
      .describe("3-D Secure: hand clientSecret to Stripe.js (handleNextAction), then POST confirmUrl"),
    confirmUrl: z.string().optional(),
    statusUrl: z.string(),
  })
  .meta({ id: 'Checkout' });

export const orderSchema = z
  .looseObject({
    id: z.string(),
    status: z.enum(['placed', 'paid', 'fulfilled', 'partially_refunded', 'refunded', 'cancelled', 'failed', 'needs_attention']),
    email: z.string(),
    lines: z.array(line),
    total: money,
    payment: z.looseObject({ authorized: money, captured: money, refunded: money }),
    events: z.array(
      z.looseObject({
        type: z.string(),
        at: z.string(),
        reason: z.string().optional(),
        actor: z
          .looseObject({ id: z.string(), name: z.string() })
          .optional()
          .describe('who acted (support_retry, support_cancel, refund_requested): shown to a support credential only'),
      }),
    ),
  })
  .meta({ id: 'Order' });

export const refundSchema = z
  .looseObject({ refundId: z.string(), orderId: z.string(), status: z.enum(['pending', 'succeeded', 'failed']), amount: money })
  .meta({ id: 'Refund' });

export const stockSchema = z.looseObject({ sku: z.string(), onHand: z.number().int(), reserved: z.number().int(), available: z.number().int() });
const up = z.enum(['ok', 'down']);
const breakerSchema = z.looseObject({
  state: z.enum(['closed', 'open', 'half_open', 'unknown']),
  failures: z.number().int().optional(),
  retryAfterMs: z.number().int().optional(),
  opens: z.number().int().optional(),
});
export const healthSchema = z.looseObject({
  status: z.enum(['ok', 'degraded']),
  checks: z.looseObject({ postgres: up, redis: up, temporal: up, search: up }),
  breakers: z.record(z.string(), breakerSchema).optional().describe('each circuit breaker (payment_gateway, smtp, search) as every process sees it'),
});
export const productPageSchema = z.looseObject({
  items: z.array(productSchema),
  nextCursor: z.string().nullable().describe('opaque; pass it back with the same sort and search to get the next page'),
  facets: z.looseObject({}).optional().describe('category counts (without the category filter) and price buckets (without the price filter)'),
});
export const recommendationsSchema = z
  .looseObject({
    items: z.array(
      z.looseObject({
        sku: z.string(),
        name: z.string(),
        price: money,
        available: z.number().int().min(1),
        score: z.number().min(0).describe('decayed weight: orders that also bought it (also_bought), or its orders in the category (bestseller)'),
        reason: z.enum(['also_bought', 'bestseller']),
      }),
    ),
    source: z.enum(['also_bought', 'bestsellers', 'none']).describe('bestsellers: the sku has no co-purchase data yet, the category\'s best sellers answer'),
  })
  .meta({ id: 'Recommendations' });
export const suggestionsSchema = z.looseObject({ items: z.array(z.looseObject({ sku: z.string(), name: z.string() })) });
export const itemsOf = (item: z.ZodType) => z.looseObject({ items: z.array(item) });
export const supportActionSchema = z.looseObject({ orderId: z.string(), action: z.enum(['retry', 'cancel']) });
export const unsubscribedSchema = z.looseObject({ unsubscribed: z.boolean(), email: z.string() });

export const errorSchema = z
  .object({
    error: z.looseObject({ code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]), message: z.string(), details: z.unknown().optional() }),
  })
  .meta({ id: 'Error' });
