import { CartLockedError, customerCartIds, NotCartOwnerError, TooManyLinesError, type CartStore, type StoredCart } from '../db/stores/cart';
import { mayAccess, ownerOf } from '../domain/ownership';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

type Deps = Pick<UseCaseDeps, 'dbs' | 'config'> & { carts: CartStore };

const running = (cart: StoredCart, now: number) => Boolean(cart.checkoutId) && (cart.lockedUntil ?? 0) > now;

/** The customer's open cart: their most recently changed cart in this currency with no checkout running. */
async function openCartOf({ dbs, carts }: Deps, customerId: string, currency: string, except: string): Promise<StoredCart | undefined> {
  const now = Date.now();
  for (const id of await customerCartIds(dbs.cart, customerId, 20)) {
    if (id === except) continue;
    const cart = await carts.get(id);
    if (cart && ownerOf(cart.customerId) === customerId && cart.currency === currency && !running(cart, now)) return cart;
  }
  return undefined;
}

const checkoutRunning = (checkoutId: string) =>
  rejected('checkout_in_progress', 'a checkout of this cart is running: it cannot be claimed until it ends', { checkoutId });

/**
 * At login, a guest cart becomes the customer's: its lines are merged into the customer's open
 * cart (quantities summed, at most the per-line maximum) and the guest cart is emptied, or,
 * when they have none, the guest cart itself becomes theirs. Another account's cart is not
 * found (404); a cart whose checkout is running cannot be claimed (409 checkout_in_progress).
 */
export async function claimCart(deps: Deps, cartId: string, customerId: string): Promise<{ kind: 'claimed'; cartId: string } | Rejected> {
  const { carts } = deps;
  const guest = await carts.get(cartId);
  if (!guest || !mayAccess(guest.customerId, customerId)) return rejected('not_found', 'no such cart');
  if (ownerOf(guest.customerId) === customerId) return { kind: 'claimed', cartId };
  if (running(guest, Date.now())) return checkoutRunning(guest.checkoutId as string);
  try {
    // Claimed first (atomically refused while a checkout runs), so no guest checkout starts
    // on lines that are being moved; then merged, then removed line by line (a write that
    // respects the checkout lock, unlike CLEAR).
    const claimed = await carts.claim(cartId, customerId);
    if (!claimed) return rejected('not_found', 'no such cart');
    const target = claimed.lines.length > 0 ? await openCartOf(deps, customerId, claimed.currency, claimed.id) : undefined;
    if (!target) return { kind: 'claimed', cartId };
    const max = deps.config.cart.maxQuantityPerLine;
    for (const line of claimed.lines) {
      const had = target.lines.find((l) => l.sku === line.sku)?.quantity ?? 0;
      await carts.setLine(target.id, line.sku, Math.min(max, had + line.quantity), { customerId });
    }
    for (const line of claimed.lines) await carts.setLine(claimed.id, line.sku, 0, { customerId });
    return { kind: 'claimed', cartId: target.id };
  } catch (err) {
    if (err instanceof CartLockedError) return checkoutRunning(err.checkoutId);
    if (err instanceof NotCartOwnerError) return rejected('not_found', 'no such cart');
    if (err instanceof TooManyLinesError) return rejected('invalid_request', `the merged cart would hold too many lines: ${err.message}`);
    throw err;
  }
}
