import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { cartKey } from '../../db/stores/cart';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review r26b of 7e82ff0 (finishPaidCheckout's cart step: CLEAR_CHECKOUT takes the lines out
 * only while `cart.checkoutId` is this checkout's).
 *
 * Carts survive a Redis restart through the Postgres backup (PRODUCT.md #6): a cart missing from
 * Redis is restored from it by the next write (CartStore.mutate -> restoreBackup). The backup has
 * the lines but not the checkout lock. So when Redis loses the cart while its checkout runs (a
 * Redis restart or failover during a capture parked for support, a 3-D Secure wait), the finish
 * step restores the cart, finds no checkoutId — "not this checkout's" — and leaves every paid
 * line in it. On main, clearCart emptied the restored cart. The customer sees the goods they
 * paid for still in the cart, unlocked, ready to be bought (and charged) again.
 */
describe('finishPaidCheckout vs a cart restored from its backup', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  }, 120_000);
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  it('a paid checkout empties its cart also when Redis lost the cart while the checkout ran', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 900, onHand: 10 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);

    gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['capture'] });
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'restored' }, body: { cartId, email: 'restored@example.com', paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    const orderId = res.body.orderId as string;
    await eventually(async () => ((await stack.http('GET', `/orders/${orderId}`)).body.status === 'needs_attention' ? true : undefined), 30_000, 'parked');

    // Redis loses the cart (a restart without persistence, a failover): only the Postgres backup has it
    expect(await stack.redis.del(cartKey(cartId))).toBe(1);

    gateway.setFaults(null);
    expect((await stack.http('POST', `/admin/orders/${orderId}/retry`, { headers: admin })).status).toBe(202);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('paid');

    const after = await stack.http('GET', `/carts/${cartId}`);
    console.log('cart after the paid checkout', after.status, JSON.stringify(after.body));
    expect(after.body.lines).toEqual([]);
  }, 120_000);
});
