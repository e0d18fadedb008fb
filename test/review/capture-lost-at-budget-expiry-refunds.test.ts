import { eq } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { orders } from '../../db/schema/order';
import { payments } from '../../db/schema/payment';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review r28b of 6b4bd96 (checkout-capture-and-finish). captureThenFinish makes a capture
 * failure final from attempt CAPTURE_ATTEMPTS (6) on, with no CAPTURED_BEFORE_REFUSAL detail: the
 * workflow parks the CAPTURE, and the authorization's expiry applies. But a capture whose reply
 * was lost (a gateway 500/timeout after the operation; the ledger write never ran) may have
 * happened: invariant 10 says ask the gateway before acting. Nobody asks: the expiry fires on a
 * parked "capture" and cancels the order "the payment authorization expired before the capture
 * could be retried" — the payment was captured, and the compensation refunds it. The expiry rule
 * cancels a CAPTURED payment (PRODUCT.md: it may cancel only an uncaptured one), a placed and paid
 * order is undone by an infrastructure failure (invariant 11).
 * (Same as the old path's 6-attempt capture activity; the merged activity kept the budget without
 * the gateway check.)
 */
describe('a capture whose reply is lost on every attempt of its budget', () => {
  let stack: Stack;
  let gateway: LocalGateway;

  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      env: {
        CIRCUIT_FAILURE_THRESHOLD: '1000',
        // the authorization's expiry (validity − 1 h margin) ≈ 50 s after the authorization
        AUTHORIZATION_VALIDITY_HOURS: String(1 + 50 / 3600),
      },
    });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  });
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  it('never cancels (by the authorization expiry) an order whose payment the gateway captured', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1200, onHand: 5 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

    // every capture call reaches the gateway and then loses its reply (6 attempts: the budget)
    gateway.setFaults({ mode: 'lost', count: 6, operations: ['capture'] });
    const res = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': `lost-capture-${sku}` },
      body: { cartId, email: 'lost-capture@example.com', paymentToken: 'tok_visa' },
    });
    expect([201, 202]).toContain(res.status);
    const checkoutId = res.body.checkoutId as string;

    // the run ends: parked as a capture failure, then the expiry
    const order = await eventually(
      async () => {
        const [o] = await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId));
        return o && ['paid', 'cancelled', 'failed'].includes(o.status) ? o : undefined;
      },
      110_000,
      'the order settled',
    );
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    const atGateway = payment ? await gateway.lookupPayment(payment.gatewayRef) : undefined;
    // the gateway captured on the first attempt
    expect(atGateway?.captured).toBe(1200);
    // ... so the expiry must not cancel the order, nor refund the capture
    expect({ status: order.status, refunded: atGateway?.refunded, reason: order.statusReason }).toMatchObject({
      status: 'paid',
      refunded: 0,
    });
  }, 150_000);
});
