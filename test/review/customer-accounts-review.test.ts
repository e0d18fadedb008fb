import { randomBytes } from 'node:crypto';
import { CartStore } from '../../db/stores/cart';
import { claimCart } from '../../usecases/claim-cart';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review of the customer-accounts feature (branch r15a): each test states what should hold
 * and fails while the finding is open.
 */
describe('customer accounts: review findings', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { CUSTOMER_LOGIN_ATTEMPTS_PER_IP: '100000', CUSTOMER_LOGIN_FAILURES_PER_ACCOUNT: '3', CART_MAX_LINES: '3' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const PASSWORD = 'correct horse battery';
  const newEmail = () => `r-${randomBytes(6).toString('hex')}@example.com`;
  async function register(email = newEmail()): Promise<{ id: string; email: string }> {
    const res = await stack.http('POST', '/customers', { body: { email, password: PASSWORD } });
    expect(res.status).toBe(201);
    return { id: res.body.id, email };
  }
  async function login(email: string, extra: Record<string, unknown> = {}) {
    return stack.http('POST', '/auth/login', { body: { email, password: PASSWORD, ...extra } });
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  async function guestCart(lines: [string, number][]): Promise<string> {
    const res = await stack.http('POST', '/carts', { body: {} });
    expect(res.status).toBe(201);
    for (const [sku, quantity] of lines) {
      expect((await stack.http('PUT', `/carts/${res.body.id}/lines/${sku}`, { body: { quantity } })).status).toBe(200);
    }
    return res.body.id;
  }
  async function ownCart(token: string, lines: [string, number][]): Promise<string> {
    const res = await stack.http('POST', '/carts', { body: {}, headers: bearer(token) });
    expect(res.status).toBe(201);
    for (const [sku, quantity] of lines) {
      expect((await stack.http('PUT', `/carts/${res.body.id}/lines/${sku}`, { body: { quantity }, headers: bearer(token) })).status).toBe(200);
    }
    return res.body.id;
  }

  it('GET /me/orders with a crafted cursor (20-digit micros) is a 4xx, not a 500', async () => {
    const { email } = await register();
    const { accessToken } = (await login(email)).body;
    const cursor = Buffer.from(`99999999999999999999.ord_${'A'.repeat(22)}`).toString('base64url');
    const res = await stack.http('GET', `/me/orders?cursor=${cursor}`, { headers: bearer(accessToken) });
    expect(res.status).toBe(400);
  });

  it('the per-account failure limit holds against concurrent guesses (3 failures, then 429)', async () => {
    const { email } = await register();
    const guesses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => stack.http('POST', '/auth/login', { body: { email, password: `wrong-guess-${i}` } })),
    );
    const evaluated = guesses.filter((r) => r.status === 401).length;
    // CUSTOMER_LOGIN_FAILURES_PER_ACCOUNT=3: at most 3 guesses may be checked against the password
    expect(evaluated).toBeLessThanOrEqual(3);
  });

  it('a login whose claim is refused (merged cart too many lines) writes nothing: the guest cart stays the guest\'s, the account cart unchanged', async () => {
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => createProduct(stack.dbs)));
    const { email } = await register();
    const { accessToken } = (await login(email)).body;
    // the account's open cart: 2 lines (CART_MAX_LINES=3)
    const own = await ownCart(accessToken, [
      [a as string, 1],
      [b as string, 1],
    ]);
    // a guest cart with 2 other lines: the merge fits the first, refuses the second
    const guest = await guestCart([
      [c as string, 1],
      [d as string, 1],
    ]);
    const res = await login(email, { cartId: guest });
    expect(res.status).toBe(400);
    // a 4xx wrote nothing: the account cart still has its 2 lines, and the guest (no token) still has its cart
    const ownAfter = await stack.http('GET', `/carts/${own}`, { headers: bearer(accessToken) });
    const guestAfter = await stack.http('GET', `/carts/${guest}`);
    expect({
      accountCartSkus: ownAfter.body.lines.map((l: { sku: string }) => l.sku).sort(),
      guestCartStatus: guestAfter.status,
    }).toEqual({ accountCartSkus: [a, b].sort(), guestCartStatus: 200 });
  });

  it('claiming one guest cart twice concurrently (two logins of the same account, e.g. a retried login) never doubles its quantities', async () => {
    const sku = await createProduct(stack.dbs);
    const { email, id: customerId } = await register();
    const { accessToken } = (await login(email)).body;
    const own = await ownCart(accessToken, [[sku, 1]]);
    const guest = await guestCart([[sku, 2]]);
    // The interleaving: login 2 reads the guest cart (still a guest's); login 1 claims it and
    // pauses right after its CLAIM; login 2 then claims it too and merges what it finds, then
    // login 1 merges. Each pause ends when the other side is done or after 500 ms (a claim that
    // serialises per account cannot let login 2 finish while login 1 holds it: no deadlock).
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    let reachedClaim!: () => void;
    const atClaim = new Promise<void>((r) => (reachedClaim = r));
    let finishSecond!: () => void;
    const secondDone = new Promise<void>((r) => (finishSecond = r));
    class First extends CartStore {
      paused = false;
      override async claim(...args: Parameters<CartStore['claim']>) {
        const claimed = await super.claim(...args);
        if (args[0] === guest && !this.paused) {
          this.paused = true;
          reachedClaim();
          await Promise.race([secondDone, sleep(500)]);
        }
        return claimed;
      }
    }
    let first: Promise<unknown> | undefined;
    const firstStore = new First(stack.redis, stack.dbs.cart, stack.config.cart);
    class Second extends CartStore {
      started = false;
      override async get(id: string) {
        const cart = await super.get(id);
        if (id === guest && !this.started) {
          this.started = true;
          first = claimCart({ dbs: stack.dbs, config: stack.config, carts: firstStore }, guest, customerId);
          await Promise.race([atClaim, sleep(500)]);
        }
        return cart;
      }
    }
    const secondStore = new Second(stack.redis, stack.dbs.cart, stack.config.cart);
    await claimCart({ dbs: stack.dbs, config: stack.config, carts: secondStore }, guest, customerId);
    finishSecond();
    await first;
    const store = new CartStore(stack.redis, stack.dbs.cart, stack.config.cart);
    // the account's 1 plus the guest cart's 2
    expect((await store.get(own))?.lines.find((l) => l.sku === sku)?.quantity).toBe(3);
  });

  it('two guest carts claimed concurrently into one account keep both carts\' quantities (no lost update)', async () => {
    const sku = await createProduct(stack.dbs);
    const { email, id: customerId } = await register();
    const { accessToken } = (await login(email)).body;
    const own = await ownCart(accessToken, [[sku, 1]]);
    const store = new CartStore(stack.redis, stack.dbs.cart, stack.config.cart);
    const deps = { dbs: stack.dbs, config: stack.config, carts: store };
    const g1 = await guestCart([[sku, 2]]);
    const g2 = await guestCart([[sku, 3]]);
    await Promise.all([claimCart(deps, g1, customerId), claimCart(deps, g2, customerId)]);
    const after = (await store.get(own))?.lines.find((l) => l.sku === sku)?.quantity ?? 0;
    const g1After = (await store.get(g1))?.lines.length;
    const g2After = (await store.get(g2))?.lines.length;
    // the 5 moved out of the guest carts are all in the account's cart
    expect({ after, g1After, g2After }).toEqual({ after: 6, g1After: 0, g2After: 0 });
  });

  it('a guest cart whose free-text customerId starts with cus_ (not an account id) stays editable by its holder', async () => {
    const sku = await createProduct(stack.dbs);
    const created = await stack.http('POST', '/carts', { body: { customerId: 'cus_legacy-label' } });
    expect(created.status).toBe(201);
    // GET treats it as a guest's cart ...
    expect((await stack.http('GET', `/carts/${created.body.id}`)).status).toBe(200);
    // ... so PUT must too
    const put = await stack.http('PUT', `/carts/${created.body.id}/lines/${sku}`, { body: { quantity: 1 } });
    expect(put.status).toBe(200);
  });

  it('POST /me/password is throttled: a stolen access token cannot guess the current password without limit', async () => {
    const { email } = await register();
    const { accessToken } = (await login(email)).body;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await stack.http('POST', '/me/password', { body: { currentPassword: `guess-${i}-xxxx`, newPassword: 'another long password' }, headers: bearer(accessToken) });
      statuses.push(res.status);
    }
    expect(statuses).toContain(429);
  });
});
