import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { cartKey } from '../../db/stores/cart';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * POST /checkouts locks the cart for its checkout before asking the cart's workflow; a lapsed
 * lock (the running checkout parked past its lifetime) is taken. When the running workflow then
 * refuses the new checkout (409 checkout_in_progress), the lock it took is given back: the
 * running checkout's cart carries no refused checkout's lock.
 */
describe('a refused checkout gives the cart lock back', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000', STOCK_HOLD_TTL_SECONDS: '2' } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  }, 120_000);
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  it('409 checkout_in_progress leaves no lock of the refused checkout on the cart', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 10 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const body = { cartId, email: 'giveback@example.com', paymentToken: 'tok_visa' };
    gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['capture'] });
    const a = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'giveback-a' }, body });
    expect(a.status).toBe(201);
    const orderA = a.body.orderId as string;
    await eventually(async () => ((await stack.http('GET', `/orders/${orderA}`)).body.status === 'needs_attention' ? true : undefined), 30_000, 'A parked');
    const before = JSON.parse((await stack.redis.get(cartKey(cartId))) as string) as { checkoutId?: string };

    await new Promise((r) => setTimeout(r, 2_500));
    const b = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'giveback-b' }, body });
    expect(b.status).toBe(409);
    const after = JSON.parse((await stack.redis.get(cartKey(cartId))) as string) as { checkoutId?: string };
    // the lock is A's (lapsed) or none, never the refused checkout's
    expect(after.checkoutId === undefined || after.checkoutId === before.checkoutId).toBe(true);
    gateway.setFaults(null);
  }, 120_000);
});
