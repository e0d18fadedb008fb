import { CartLockedError, customerCartIds, NotCartOwnerError, TooManyLinesError, type CartStore, type StoredCart } from '../db/stores/cart';
import { mayAccess, ownerOf } from '../domain/ownership';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

type Deps = Pick<UseCaseDeps, 'dbs' | 'config'> & { carts: CartStore };
type Claimed = { kind: 'claimed'; cartId: string };

const running = (cart: StoredCart, now: number) => Boolean(cart.checkoutId) && (cart.lockedUntil ?? 0) > now;

/**
 * The customer's open cart: their most recently changed cart in this currency that has lines
 * and no checkout running. An emptied cart (a guest cart merged by an earlier claim) is never
 * the target: the lines go where the customer's other lines are.
 */
async function openCartOf({ dbs, carts }: Deps, customerId: string, currency: string, except: string): Promise<StoredCart | undefined> {
  const now = Date.now();
  for (const id of await customerCartIds(dbs.cart, customerId, 20)) {
    if (id === except) continue;
    const cart = await carts.get(id);
    if (cart && ownerOf(cart.customerId) === customerId && cart.currency === currency && cart.lines.length > 0 && !running(cart, now)) return cart;
  }
  return undefined;
}

const checkoutRunning = (checkoutId: string) =>
  rejected('checkout_in_progress', 'a checkout of this cart is running: it cannot be claimed until it ends', { checkoutId });
const tooManyLines = (maxLines: number) => rejected('invalid_request', `the merged cart would hold too many lines: a cart holds at most ${maxLines} lines`);

/** Why a guest cart cannot be claimed now, if it cannot (read without writing). */
function refusal(cart: StoredCart | null, customerId: string): Rejected | Claimed | undefined {
  if (!cart || !mayAccess(cart.customerId, customerId)) return rejected('not_found', 'no such cart');
  if (ownerOf(cart.customerId) === customerId) return { kind: 'claimed', cartId: cart.id };
  if (running(cart, Date.now())) return checkoutRunning(cart.checkoutId as string);
  return undefined;
}

/**
 * At login, a guest cart becomes the customer's: its lines are merged into the customer's open
 * cart (quantities summed, at most the per-line maximum) and the guest cart is left empty, or,
 * when they have none, the guest cart itself becomes theirs. Another account's cart is not
 * found (404); a cart whose checkout is running cannot be claimed (409 checkout_in_progress).
 *
 * Concurrency: the claims of one customer run one at a time (a Redis lock on the customer's
 * hash tag); the guest cart's lines are taken out in the same atomic step that makes it the
 * customer's (a second claim of it finds nothing), and added to the target in one atomic step
 * (deltas, so a concurrent write to the target is kept). A refusal writes nothing: the merged
 * line count is checked first, and a merge the target refuses at the last moment (its own
 * lines changed, a checkout started) puts the lines and the previous owner back.
 */
export async function claimCart(deps: Deps, cartId: string, customerId: string): Promise<Claimed | Rejected> {
  const { carts, config } = deps;
  const early = refusal(await carts.get(cartId), customerId);
  if (early) return early;
  const release = await carts.lockClaims(customerId);
  if (!release) return rejected('cart_claim_in_progress', 'another login of this account is claiming a cart: try again');
  try {
    // read again under the lock: another claim may have taken the cart meanwhile
    const guest = await carts.get(cartId);
    const refused = refusal(guest, customerId);
    if (refused) return refused;
    const target = guest && guest.lines.length > 0 ? await openCartOf(deps, customerId, guest.currency, cartId) : undefined;
    if (!target) {
      const claimed = await carts.claim(cartId, customerId);
      return claimed ? { kind: 'claimed', cartId } : rejected('not_found', 'no such cart');
    }
    const skus = new Set([...target.lines, ...(guest as StoredCart).lines].map((l) => l.sku));
    if (skus.size > config.cart.maxLines) return tooManyLines(config.cart.maxLines);
    const claimed = await carts.claim(cartId, customerId, { take: true });
    if (!claimed) return rejected('not_found', 'no such cart');
    if (claimed.taken.length === 0) return { kind: 'claimed', cartId: target.id };
    const max = config.cart.maxQuantityPerLine;
    try {
      if (!(await carts.mergeLines(target.id, claimed.taken, customerId, max))) {
        // the target expired meanwhile: the claimed cart keeps its lines and is the customer's
        await carts.unclaim(cartId, claimed.taken, customerId, customerId, max);
        return { kind: 'claimed', cartId };
      }
    } catch (err) {
      // the target refused (or vanished): the guest cart gets its lines and its owner back
      await carts.unclaim(cartId, claimed.taken, customerId, claimed.previous, max);
      if (err instanceof NotCartOwnerError) return rejected('not_found', 'no such cart');
      throw err;
    }
    return { kind: 'claimed', cartId: target.id };
  } catch (err) {
    if (err instanceof CartLockedError) return checkoutRunning(err.checkoutId);
    if (err instanceof NotCartOwnerError) return rejected('not_found', 'no such cart');
    if (err instanceof TooManyLinesError) return tooManyLines(config.cart.maxLines);
    throw err;
  } finally {
    await release();
  }
}
