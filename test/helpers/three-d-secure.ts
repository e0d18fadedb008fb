import { and, eq, like } from 'drizzle-orm';
import { stock } from '../../db/schema/inventory';
import { localGatewayOperations as ops } from '../../db/schema/payment';
import type { Stack } from './stack';

/**
 * What a storefront and its customer do in a 3-D Secure checkout against a test stack (the
 * local gateway), and what the tests read back: the gateway's own operations and the stock.
 * `stack` is read at each call (suites assign it in beforeAll).
 */
export function threeDSecureShop(stack: () => Stack) {
  return {
    /** A cart with one line of `sku`. */
    async cartWith(sku: string, quantity: number): Promise<string> {
      const cart = await stack().http('POST', '/carts', { body: {} });
      const line = await stack().http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity } });
      if (line.status !== 200) throw new Error(`PUT line answered ${line.status}`);
      return cart.body.id as string;
    },
    checkout: (cartId: string, key: string, email: string, paymentToken = 'tok_threeDSecure2Required') =>
      stack().http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body: { cartId, email, paymentToken } }),
    /** The customer's step on the processor's page (Stripe.js handleNextAction). */
    authenticate: (clientSecret: string, outcome: 'pass' | 'fail' = 'pass') =>
      stack().http('POST', '/local-gateway/authenticate', { body: { clientSecret, outcome } }),
    confirm: (checkoutId: string) => stack().http('POST', `/checkouts/${checkoutId}/confirm`),
    /** The local gateway's operations of one kind for a checkout (its keys carry the checkout id). */
    opsOf: (checkoutId: string, operation: string) =>
      stack().dbs.payment.select().from(ops).where(and(eq(ops.operation, operation), like(ops.paymentRef, `%/${checkoutId}/%`))),
    stockOf: async (sku: string) => (await stack().dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0],
  };
}
