import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { carts as cartRows } from '../../db/schema/cart';
import { checkouts } from '../../db/schema/order';
import { CartStore } from '../../db/stores/cart';
import { createProduct, startStack, type Stack } from '../helpers/stack';

const PASSWORD = 'correct horse battery';
const ADMIN = { Authorization: 'Bearer dev-admin-token' };

describe('ownership: a customer sees only their own carts, checkouts, orders and refunds (real Temporal, PostgreSQL, Redis)', () => {
  let stack: Stack;
  let store: CartStore;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000', CUSTOMER_LOGIN_ATTEMPTS_PER_IP: '1000' } });
    store = new CartStore(stack.redis, stack.dbs.cart, stack.config.cart);
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function customer(tag: string) {
    const email = `${tag}-${randomBytes(5).toString('hex')}@example.com`;
    const created = await stack.http('POST', '/customers', { body: { email, password: PASSWORD } });
    expect(created.status).toBe(201);
    const login = await stack.http('POST', '/auth/login', { body: { email, password: PASSWORD } });
    return { id: created.body.id as string, email, auth: { Authorization: `Bearer ${login.body.accessToken}` } };
  }

  async function cartWith(lines: [string, number][], headers: Record<string, string> = {}, body: Record<string, unknown> = {}): Promise<string> {
    const cart = await stack.http('POST', '/carts', { headers, body });
    expect(cart.status).toBe(201);
    for (const [sku, quantity] of lines) expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { headers, body: { quantity } })).status).toBe(200);
    return cart.body.id as string;
  }

  const checkout = (cartId: string, headers: Record<string, string>, key = `k-${randomBytes(4).toString('hex')}`, extra: Record<string, unknown> = {}) =>
    stack.http('POST', '/checkouts', { headers: { ...headers, 'Idempotency-Key': key }, body: { cartId, email: 'buyer@example.com', paymentToken: 'tok_visa', ...extra } });

  it("A's cart, checkout, order and refunds: 404 not_found for B's token and for no token, on every route; A reads them all", async () => {
    const a = await customer('a');
    const b = await customer('b');
    const sku = await createProduct(stack.dbs, { priceAmount: 1500, onHand: 20 });
    const cartId = await cartWith([[sku, 2]], a.auth);
    expect((await stack.http('GET', `/carts/${cartId}`, { headers: a.auth })).body).toMatchObject({ customerId: a.id });

    const strangers: [string, Record<string, string>][] = [['B', b.auth], ['no token', {}]];
    for (const [who, headers] of strangers) {
      const cartRoutes = [
        await stack.http('GET', `/carts/${cartId}`, { headers }),
        await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { headers, body: { quantity: 5 } }),
        await stack.http('DELETE', `/carts/${cartId}/lines/${sku}`, { headers }),
        await checkout(cartId, headers),
      ];
      expect({ who, answers: cartRoutes.map((r) => [r.status, r.body?.error?.code]) }).toEqual({ who, answers: cartRoutes.map(() => [404, 'not_found']) });
    }
    // nothing the strangers sent changed the cart, and no checkout was opened for them
    expect((await stack.http('GET', `/carts/${cartId}`, { headers: a.auth })).body.lines).toMatchObject([{ sku, quantity: 2 }]);
    expect(await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId))).toEqual([]);

    const placed = await checkout(cartId, a.auth, 'a-order-1');
    expect(placed.status).toBe(201);
    const { checkoutId, orderId } = placed.body as { checkoutId: string; orderId: string };
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    const refund = await stack.http('POST', `/orders/${orderId}/refunds`, { headers: { ...ADMIN, 'Idempotency-Key': 'r1' }, body: { amount: { amount: 500, currency: 'USD' }, reason: 'goodwill' } });
    expect(refund.status).toBeLessThan(300);

    // the same Idempotency-Key replayed by a stranger is not the owner's answer
    for (const [who, headers] of strangers) {
      const routes = [
        await checkout(cartId, headers, 'a-order-1'),
        await stack.http('GET', `/checkouts/${checkoutId}`, { headers }),
        await stack.http('POST', `/checkouts/${checkoutId}/confirm`, { headers }),
        await stack.http('GET', `/orders/${orderId}`, { headers }),
        await stack.http('GET', `/orders/${orderId}/refunds`, { headers }),
      ];
      expect({ who, answers: routes.map((r) => [r.status, r.body?.error?.code]) }).toEqual({ who, answers: routes.map(() => [404, 'not_found']) });
    }
    expect((await stack.http('GET', `/checkouts/${checkoutId}`, { headers: a.auth })).body).toMatchObject({ status: 'placed', orderId });
    expect((await stack.http('GET', `/orders/${orderId}`, { headers: a.auth })).body).toMatchObject({ id: orderId, customerId: a.id, status: 'partially_refunded' });
    expect((await stack.http('GET', `/orders/${orderId}/refunds`, { headers: a.auth })).body.items).toHaveLength(1);
    // refunds are a support action: no customer token makes one (B's nor A's own)
    for (const headers of [b.auth, a.auth]) {
      const refused = await stack.http('POST', `/orders/${orderId}/refunds`, { headers: { ...headers, 'Idempotency-Key': `r-${randomBytes(3).toString('hex')}` }, body: { amount: { amount: 100, currency: 'USD' }, reason: 'mine' } });
      expect(refused.status === 401 || refused.status === 403).toBe(true);
    }
    expect((await stack.http('GET', `/orders/${orderId}/refunds`, { headers: a.auth })).body.items).toHaveLength(1);
    // support still finds it by customer
    expect((await stack.http('GET', `/orders?customerId=${a.id}`, { headers: ADMIN })).body.items.map((o: { id: string }) => o.id)).toEqual([orderId]);
  });

  it('guest carts are unchanged: the id is the capability, with or without a customer token; checkout and order work as before', async () => {
    const a = await customer('guestcheck');
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 5 });
    const cartId = await cartWith([[sku, 1]], {}, { customerId: 'legacy-label-1' });
    expect((await stack.http('GET', `/carts/${cartId}`, { headers: a.auth })).status).toBe(200);
    const placed = await checkout(cartId, {}, 'guest-1', { customerId: 'legacy-label-1' });
    expect(placed.status).toBe(201);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    expect((await stack.http('GET', `/orders/${placed.body.orderId}`)).body).toMatchObject({ status: 'paid', customerId: 'legacy-label-1' });
    expect((await stack.http('GET', `/orders/${placed.body.orderId}`, { headers: a.auth })).status).toBe(200);
    expect((await stack.http('GET', `/checkouts/${placed.body.checkoutId}`)).status).toBe(200);
    expect((await stack.http('GET', '/me/orders', { headers: a.auth })).body.items).toEqual([]);
  });

  it("a body customerId cannot claim an identity: with a token any customerId is 400, without one an account id is 400", async () => {
    const a = await customer('claimid');
    const b = await customer('victim');
    const withToken = await stack.http('POST', '/carts', { headers: a.auth, body: { customerId: b.id } });
    expect(withToken.status).toBe(400);
    expect(withToken.body.error.code).toBe('invalid_request');
    const without = await stack.http('POST', '/carts', { body: { customerId: b.id } });
    expect(without.status).toBe(400);
    expect(await stack.dbs.cart.select().from(cartRows).where(eq(cartRows.customerId, b.id))).toEqual([]);
    // an account is named by its token only: not even its own id goes in the body
    expect((await stack.http('POST', '/carts', { headers: a.auth, body: { customerId: a.id } })).status).toBe(400);
    // nor a guest's label next to a token (it would disagree with the token)
    expect((await stack.http('POST', '/carts', { headers: a.auth, body: { customerId: 'my-label' } })).status).toBe(400);
    expect((await stack.http('POST', '/carts', { headers: a.auth, body: {} })).body.customerId).toBe(a.id);
    // a guest cart checked out with B's id in the body: refused, nothing opened
    const sku = await createProduct(stack.dbs, { onHand: 5 });
    const guestCart = await cartWith([[sku, 1]]);
    const res = await checkout(guestCart, {}, 'spoof-1', { customerId: b.id });
    expect(res.status).toBe(400);
    expect(await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, guestCart))).toEqual([]);
  });

  it('login with a guest cart merges its lines into the open cart (quantities summed); the guest cart is emptied and no longer a guest capability', async () => {
    const a = await customer('merge');
    const [s1, s2] = [await createProduct(stack.dbs, { priceAmount: 100, onHand: 50 }), await createProduct(stack.dbs, { priceAmount: 200, onHand: 50 })];
    const open = await cartWith([[s1, 1]], a.auth);
    const guest = await cartWith([[s1, 2], [s2, 3]]);
    const login = await stack.http('POST', '/auth/login', { body: { email: a.email, password: PASSWORD, cartId: guest } });
    expect(login.status).toBe(200);
    expect(login.body.cartId).toBe(open);
    const merged = await stack.http('GET', `/carts/${open}`, { headers: a.auth });
    expect(merged.body.lines.map((l: { sku: string; quantity: number }) => [l.sku, l.quantity]).sort()).toEqual([[s1, 3], [s2, 3]].sort());
    expect(merged.body.total).toEqual({ amount: 900, currency: 'USD' });
    expect((await stack.http('GET', `/carts/${guest}`)).status).toBe(404);
    expect((await stack.http('GET', `/carts/${guest}`, { headers: a.auth })).body.lines).toEqual([]);
  });

  it('login with a guest cart when the customer has no open cart: the guest cart becomes theirs with its lines; /me/carts lists it', async () => {
    const a = await customer('adopt');
    const sku = await createProduct(stack.dbs, { priceAmount: 300, onHand: 10 });
    const guest = await cartWith([[sku, 4]]);
    const login = await stack.http('POST', '/auth/login', { body: { email: a.email, password: PASSWORD, cartId: guest } });
    expect(login.status).toBe(200);
    expect(login.body.cartId).toBe(guest);
    const auth = { Authorization: `Bearer ${login.body.accessToken}` };
    expect((await stack.http('GET', `/carts/${guest}`, { headers: auth })).body).toMatchObject({ customerId: a.id, lines: [{ sku, quantity: 4 }] });
    expect((await stack.http('GET', `/carts/${guest}`)).status).toBe(404);
    // the claim is in the PostgreSQL backup too (a Redis loss keeps the owner)
    expect((await stack.dbs.cart.select().from(cartRows).where(eq(cartRows.id, guest)))[0]?.customerId).toBe(a.id);
    const mine = await stack.http('GET', '/me/carts', { headers: auth });
    expect(mine.body.items.map((c: { id: string }) => c.id)).toEqual([guest]);
    // another customer cannot claim it any more
    const b = await customer('late');
    const stolen = await stack.http('POST', '/auth/login', { body: { email: b.email, password: PASSWORD, cartId: guest } });
    expect(stolen.status).toBe(404);
    expect(stolen.body.error.code).toBe('not_found');
  });

  it('a guest cart whose checkout is running cannot be claimed: 409 checkout_in_progress, no tokens', async () => {
    const a = await customer('locked');
    const sku = await createProduct(stack.dbs, { onHand: 10 });
    const guest = await cartWith([[sku, 1]]);
    expect(await store.lock(guest, 'chk_running', Date.now() + 60_000)).toBe('chk_running');
    const login = await stack.http('POST', '/auth/login', { body: { email: a.email, password: PASSWORD, cartId: guest } });
    expect(login.status).toBe(409);
    expect(login.body.error).toMatchObject({ code: 'checkout_in_progress', details: { checkoutId: 'chk_running' } });
    expect(login.body.accessToken).toBeUndefined();
    expect((await stack.http('GET', `/carts/${guest}`)).body.customerId).toBeUndefined();
  });

  it('GET /me/orders: newest first, a page at a time; only my orders', async () => {
    const a = await customer('orders');
    const b = await customer('others');
    const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 30 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const cartId = await cartWith([[sku, 1]], a.auth);
      const placed = await checkout(cartId, a.auth, `mine-${i}`);
      expect(placed.status).toBe(201);
      ids.push(placed.body.orderId);
      await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    }
    const first = await stack.http('GET', '/me/orders?limit=2', { headers: a.auth });
    expect(first.status).toBe(200);
    expect(first.body.items.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.items[0]).toMatchObject({ customerId: a.id, total: { amount: 1000, currency: 'USD' } });
    const second = await stack.http('GET', `/me/orders?limit=2&cursor=${first.body.nextCursor}`, { headers: a.auth });
    expect(second.body.items.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
    expect(second.body.nextCursor).toBeUndefined();
    expect((await stack.http('GET', '/me/orders', { headers: b.auth })).body.items).toEqual([]);
    expect((await stack.http('GET', '/me/orders?cursor=bogus', { headers: a.auth })).status).toBe(400);
  });
});
