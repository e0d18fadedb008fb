import { getProduct } from '../db/stores/catalog';
import { CartLockedError, CurrencyMismatchError, NotCartOwnerError, TooManyLinesError, type CartStore, type StoredCart } from '../db/stores/cart';
import { isAccountId, mayAccess } from '../domain/ownership';
import { priceLines } from '../db/stores/pricing';
import type { Product } from '../db/schema/catalog';
import { signalCartRecovery, trackRecoveryStart } from '../temporal/cart-recovery';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

type Deps = UseCaseDeps & { carts: CartStore };

/**
 * Carts hold no prices: each answer prices the lines from the catalog as it is now. `known`:
 * products read from the catalog a moment before (not read again).
 */
export async function pricedCart({ dbs }: Pick<Deps, 'dbs'>, cart: StoredCart, known?: ReadonlyMap<string, Product>) {
  const priced = await priceLines(dbs.catalog, cart.lines, cart.currency, known);
  return {
    id: cart.id,
    currency: cart.currency,
    ...(cart.email ? { email: cart.email } : {}),
    ...(cart.customerId ? { customerId: cart.customerId } : {}),
    lines: priced.lines,
    total: priced.total,
    unavailable: priced.unavailable,
    updatedAt: cart.updatedAt,
  };
}

export type PricedCartView = Awaited<ReturnType<typeof pricedCart>>;
export type CartResult = { kind: 'cart'; cart: PricedCartView } | Rejected;

/**
 * A cart write never waits on Temporal. The Lua script that changed the cart also moved its
 * reminder marker (db/stores/cart-scripts.ts RECOVERY_AFTER_WRITE) and says when the cart's
 * recovery workflow must be started (the first write with an email and lines) or told of the
 * change (once, after a reminder was handled): only then, and after the answer has left, one
 * signal-with-start goes out. Any other write costs Temporal nothing: the run finds the newer
 * version when it wakes. A failure is logged, never answered: the marker stays `open` with the
 * time it was opened, and the next write after CART_RECOVERY_RESTART_SECONDS kicks again; the
 * cart-recovery Schedule's sweep starts (or tells) the run of every idle cart it finds unsettled.
 */
const RECOVERY_START_DEADLINE_MS = 10_000;

function restartRecovery({ temporal, config, logger }: Deps, cart: StoredCart): void {
  if (!cart.recoveryKick || !cart.email || cart.lines.length === 0) return;
  const change = { id: cart.id, version: cart.version, updatedAt: Date.parse(cart.updatedAt) };
  // after the answer has left; tracked from now, so an API shutting down waits for it (api/server.ts)
  const start = new Promise<void>((resolve) => setImmediate(resolve))
    // bounded: a Temporal out of reach does not gather calls in the API; the next write after the
    // restart bound (CART_RECOVERY_RESTART_SECONDS) or the sweep catches up
    .then(() => temporal.connection.withDeadline(Date.now() + RECOVERY_START_DEADLINE_MS, () => signalCartRecovery(temporal, config.temporal.taskQueue, config.recovery, change)))
    .catch((err: unknown) => logger.warn({ err: String(err), cartId: cart.id }, 'cart recovery not started: a later write or the sweep will'));
  trackRecoveryStart(temporal, start);
}

/**
 * POST /carts: a new empty cart in one currency. With a customer's access token (`viewer`) the
 * cart is theirs: its customerId is the token's, and a body customerId that names anyone else
 * is refused (400), never taken. Without one, a customerId that is an account id is refused
 * too — only the token proves an account (domain/ownership.ts); a free-text label is kept as before.
 */
export async function createCart(deps: Deps, input: { currency: string; email?: string; customerId?: string }, viewer?: string): Promise<CartResult> {
  if (viewer && input.customerId !== undefined && input.customerId !== viewer) {
    return rejected('invalid_request', 'customerId disagrees with the access token: leave it out', [{ field: 'customerId', message: 'not the access token\'s customer' }]);
  }
  if (!viewer && isAccountId(input.customerId)) {
    return rejected('invalid_request', 'a customer account is named by its access token (Authorization: Bearer), not by customerId', [{ field: 'customerId', message: 'an account id needs its access token' }]);
  }
  const owned = viewer ? { ...input, customerId: viewer } : input;
  return { kind: 'cart', cart: await pricedCart(deps, await deps.carts.create(owned)) };
}

/** GET /carts/:cartId: the cart, priced now. */
export async function readCart(deps: Deps, cartId: string, viewer?: string): Promise<CartResult> {
  const cart = await deps.carts.get(cartId);
  if (!cart || !mayAccess(cart.customerId, viewer)) return rejected('not_found', 'no such cart');
  return { kind: 'cart', cart: await pricedCart(deps, cart) };
}

/**
 * PUT /carts/:cartId/lines/:sku (quantity 0 = DELETE): sets a line and answers with the
 * priced cart. An added product must be on sale; the Lua script checks the cart exists,
 * its currency and that no checkout holds its lines (no separate read of the cart first).
 */
export async function setCartLine(deps: Deps, cartId: string, sku: string, quantity: number, viewer?: string): Promise<CartResult> {
  let currency: string | undefined;
  const known = new Map<string, Product>();
  if (quantity > 0) {
    const product = await getProduct(deps.dbs.catalog, sku);
    if (!product || !product.active) return rejected('not_found', 'no such product');
    currency = product.currency;
    known.set(sku, product);
  }
  let changed: { cart: StoredCart; alongside: PricedCartView } | null;
  try {
    // priced while the backup is written; the added product is not read twice
    changed = await deps.carts.setLineAlongside(cartId, sku, quantity, { currency, customerId: viewer }, (cart) => pricedCart(deps, cart, known));
  } catch (err) {
    if (err instanceof TooManyLinesError) return rejected('invalid_request', err.message);
    if (err instanceof NotCartOwnerError) return rejected('not_found', 'no such cart');
    if (err instanceof CartLockedError) {
      return rejected('checkout_in_progress', 'a checkout of this cart is running; its lines cannot change until it ends', {
        checkoutId: err.checkoutId,
      });
    }
    if (err instanceof CurrencyMismatchError) return rejected('invalid_request', `this product is priced in ${currency ?? '?'}, the cart in ${err.cartCurrency}`);
    throw err;
  }
  if (!changed) return rejected('not_found', 'no such cart');
  restartRecovery(deps, changed.cart);
  return { kind: 'cart', cart: changed.alongside };
}
