import { and, eq } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { orders } from '../../db/schema/order';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review r26b of 7e82ff0 (finishPaidCheckout: the cart loses the checkout's lines "only while
 * the cart is still its").
 *
 * The cart's lock lapses after STOCK_HOLD_TTL_SECONDS (15 min) while the checkout still runs: a
 * capture parked for support (hours), a 3-D Secure wait. A second POST /checkouts of the same
 * cart meanwhile (the customer pays again from another tab; a storefront retry with a new key)
 * LOCKs the lapsed cart for its own checkout id (LOCK only looks at lockedUntil), then gets 409
 * checkout_in_progress from the running workflow's validator — and nothing gives the lock back.
 *
 * When the first checkout is then paid, CLEAR_CHECKOUT finds `cart.checkoutId` = the refused
 * second checkout's, "not this checkout's", and leaves every paid line in the cart. On main,
 * clearCart emptied it. The customer's cart keeps the goods they just paid for; the second
 * request retried under its own Idempotency-Key (its row is still `pending`) then runs a new
 * workflow on those lines and charges the customer a second time for the same cart.
 */
describe('finishPaidCheckout vs a cart re-locked by a refused second checkout', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  beforeAll(async () => {
    // the 15-minute lock, shortened so it lapses within the test
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000', STOCK_HOLD_TTL_SECONDS: '2' } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  }, 120_000);
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  it('a paid checkout empties its cart even when a refused second checkout re-locked it; the second request never charges again', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1500, onHand: 20 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
    const body = { cartId, email: 'relock@example.com', paymentToken: 'tok_visa' };

    // checkout A: placed, its capture refused -> parked for support
    gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['capture'] });
    const a = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'relock-a' }, body });
    expect(a.status).toBe(201);
    const orderA = a.body.orderId as string;
    await eventually(async () => ((await stack.http('GET', `/orders/${orderA}`)).body.status === 'needs_attention' ? true : undefined), 30_000, 'A parked');

    // the lock lapses while A is parked; the customer pays again: refused 409, but the cart is now locked by B
    await new Promise((r) => setTimeout(r, 2_500));
    const b = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'relock-b' }, body });
    expect(b.status).toBe(409);
    expect(b.body.code ?? b.body.error?.code).toBe('checkout_in_progress');

    // support retries A: captured, paid
    gateway.setFaults(null);
    expect((await stack.http('POST', `/admin/orders/${orderA}/retry`, { headers: admin })).status).toBe(202);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    expect((await stack.http('GET', `/orders/${orderA}`)).body.status).toBe('paid');
    const linesAfterPaid = (await stack.http('GET', `/carts/${cartId}`)).body.lines;

    // B's lock lapses too; the storefront retries B's request (same key, its row is still pending)
    await new Promise((r) => setTimeout(r, 2_500));
    const bAgain = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'relock-b' }, body });
    if (bAgain.status === 201) await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    const paidOrders = (await stack.dbs.order.select().from(orders).where(and(eq(orders.cartId, cartId), eq(orders.status, 'paid')))).map((o) => o.id);
    console.log('cart after A paid', JSON.stringify(linesAfterPaid), 'B retried', bAgain.status, JSON.stringify(bAgain.body), 'paid orders', paidOrders);

    // main: clearCart emptied the cart, so B finds nothing to buy
    expect({ linesAfterPaid, paidOrders }).toEqual({ linesAfterPaid: [], paidOrders: [orderA] });
  }, 120_000);
});
