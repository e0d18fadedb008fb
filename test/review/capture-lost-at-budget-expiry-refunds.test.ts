import { eq } from 'drizzle-orm';
import { unguarded } from '../../activities/gateways/breaker-gateway';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { orders } from '../../db/schema/order';
import { payments } from '../../db/schema/payment';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Reviews r28b and r28c of checkout-capture-and-finish. captureThenFinish makes a capture
 * failure final from attempt CAPTURE_ATTEMPTS (6) on: the workflow parks the CAPTURE, and the
 * authorization's expiry applies. But a capture whose reply was lost (a gateway 500/timeout
 * after the operation; the ledger write never ran) may have happened: invariant 10 says ask the
 * gateway before acting. Unasked (r28b), the expiry fires on the parked "capture" and cancels
 * the order — the payment was captured, and the compensation refunds it: the expiry rule cancels
 * a CAPTURED payment (PRODUCT.md: only an uncaptured one), a placed and paid order undone by an
 * infrastructure failure (invariant 11).
 * Asked through the payment breaker (r28c), the question is refused while the breaker is open —
 * and the outage the question is for (capture replies lost) is what opens it: the same ending.
 * So the case runs twice: with no breaker to speak of (threshold 1000), and with one that this
 * checkout's lost replies open (threshold 3 in 10 s), as the other checkouts of the same outage
 * would with the default 5.
 */
describe.each<{ breaker: string; price: number; env: Record<string, string> }>([
  { breaker: 'no breaker in the way', price: 1200, env: { CIRCUIT_FAILURE_THRESHOLD: '1000' } },
  { breaker: 'the payment breaker open', price: 1300, env: { CIRCUIT_FAILURE_THRESHOLD: '3', CIRCUIT_WINDOW_MS: '10000', CIRCUIT_COOLDOWN_MS: '5000' } },
])('a capture whose reply is lost on every attempt of its budget ($breaker)', ({ price, env }) => {
  let stack: Stack;
  let gateway: LocalGateway;

  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      env: {
        ...env,
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
    const sku = await createProduct(stack.dbs, { priceAmount: price, onHand: 5 });
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

    const order = await eventually(
      async () => {
        const [o] = await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId));
        return o && ['paid', 'cancelled', 'failed'].includes(o.status) ? o : undefined;
      },
      110_000,
      'the order settled',
    );
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    // read past the breaker (this test's outage may still hold it open)
    const atGateway = payment ? await unguarded(gateway).lookupPayment(payment.gatewayRef).catch(() => undefined) : undefined;
    // the gateway captured on the first attempt
    expect(atGateway?.captured).toBe(price);
    // ... so the expiry must not cancel the order, nor refund the capture
    expect({ status: order.status, refunded: atGateway?.refunded, reason: order.statusReason }).toMatchObject({
      status: 'paid',
      refunded: 0,
    });
  }, 150_000);
});
