import { randomBytes } from 'node:crypto';
import { CartStore, claimLockKey } from '../../db/stores/cart';
import type { CartLineRecord } from '../../db/schema/cart';
import { randomId } from '../../db/ids';
import { createCustomer } from '../../db/stores/customers';
import { claimCart } from '../../usecases/claim-cart';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/** The guest-cart claim's all-or-nothing and serialisation (real Redis and PostgreSQL). */
describe('claimCart', () => {
  let stack: Stack;
  let store: CartStore;
  beforeAll(async () => {
    stack = await startStack({});
    store = new CartStore(stack.redis, stack.dbs.cart, stack.config.cart);
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function account(): Promise<string> {
    const created = await createCustomer(stack.dbs.customer, { id: randomId('cus'), email: `c-${randomBytes(5).toString('hex')}@example.com`, passwordHash: 'x' });
    if (created === 'email_taken') throw new Error('email taken');
    return created.id;
  }
  async function cart(lines: [string, number][], customerId?: string): Promise<string> {
    const created = await store.create({ currency: 'EUR', ...(customerId ? { customerId } : {}) });
    for (const [sku, q] of lines) await store.setLine(created.id, sku, q, customerId ? { customerId } : {});
    return created.id;
  }
  const deps = (carts: CartStore = store) => ({ dbs: stack.dbs, config: stack.config, carts });
  const skus = async (id: string) => (await store.get(id))?.lines.map((l) => `${l.sku}x${l.quantity}`).sort();

  it("a checkout that locks the target between the pick and the merge: 409, and both carts are as they were (the guest cart a guest's)", async () => {
    const [a, b] = await Promise.all([createProduct(stack.dbs), createProduct(stack.dbs)]);
    const customerId = await account();
    const own = await cart([[a as string, 1]], customerId);
    const guest = await cart([[b as string, 2]]);
    class CheckoutMeanwhile extends CartStore {
      override async mergeLines(id: string, lines: CartLineRecord[], c: string, max: number) {
        await store.lock(id, 'chk_meanwhile', Date.now() + 60_000, customerId);
        return super.mergeLines(id, lines, c, max);
      }
    }
    const result = await claimCart(deps(new CheckoutMeanwhile(stack.redis, stack.dbs.cart, stack.config.cart)), guest, customerId);
    expect(result).toMatchObject({ kind: 'rejected', code: 'checkout_in_progress' });
    expect(await skus(own)).toEqual([`${a}x1`]);
    expect(await skus(guest)).toEqual([`${b}x2`]);
    expect((await store.get(guest))?.customerId).toBeUndefined();
  });

  it("merges quantities up to the line maximum, and the emptied guest cart is never a later claim's target", async () => {
    const sku = (await createProduct(stack.dbs)) as string;
    const max = stack.config.cart.maxQuantityPerLine;
    const customerId = await account();
    const own = await cart([[sku, max - 1]], customerId);
    const g1 = await cart([[sku, 5]]);
    expect(await claimCart(deps(), g1, customerId)).toEqual({ kind: 'claimed', cartId: own });
    expect(await skus(own)).toEqual([`${sku}x${max}`]);
    // g1 is the customer's now (and empty, and changed last): g2 still goes to `own`
    const g2 = await cart([[sku, 1]]);
    expect(await claimCart(deps(), g2, customerId)).toEqual({ kind: 'claimed', cartId: own });
    expect((await store.get(g1))?.lines).toEqual([]);
  });

  it('a claim waits for another claim of the same account (the lock), and gives up with 409 cart_claim_in_progress', async () => {
    const customerId = await account();
    const guest = await cart([]);
    await stack.redis.set(claimLockKey(customerId), 'someone-else', 'PX', 60_000);
    try {
      class ShortWait extends CartStore {
        override lockClaims(c: string) {
          return super.lockClaims(c, 15_000, 200);
        }
      }
      const result = await claimCart(deps(new ShortWait(stack.redis, stack.dbs.cart, stack.config.cart)), guest, customerId);
      expect(result).toMatchObject({ kind: 'rejected', code: 'cart_claim_in_progress' });
      expect((await store.get(guest))?.customerId).toBeUndefined();
    } finally {
      await stack.redis.del(claimLockKey(customerId));
    }
    expect(await claimCart(deps(), guest, customerId)).toEqual({ kind: 'claimed', cartId: guest });
    expect(await stack.redis.exists(claimLockKey(customerId))).toBe(0);
  });
});
