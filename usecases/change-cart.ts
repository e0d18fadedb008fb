import { getProduct } from '../db/stores/catalog';
import { CartLockedError, CurrencyMismatchError, TooManyLinesError, type CartStore, type StoredCart } from '../db/stores/cart';
import { priceLines } from '../db/stores/pricing';
import { signalCartRecovery } from '../temporal/cart-recovery';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

type Deps = UseCaseDeps & { carts: CartStore };

/** Carts hold no prices: each answer prices the lines from the catalog as it is now. */
async function pricedCart({ dbs }: Pick<Deps, 'dbs'>, cart: StoredCart) {
  const priced = await priceLines(dbs.catalog, cart.lines, cart.currency);
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
 * Every change of a cart with an email and lines (re)starts its reminder clock. A failure
 * here must not fail the cart write: the cart-recovery Schedule's sweep catches up.
 */
async function restartRecovery({ temporal, config, logger }: Deps, cart: StoredCart): Promise<void> {
  if (!cart.email || cart.lines.length === 0) return;
  await signalCartRecovery(temporal, config.temporal.taskQueue, config.recovery, {
    id: cart.id,
    version: cart.version,
    updatedAt: Date.parse(cart.updatedAt),
  }).catch((err: unknown) => logger.warn({ err: String(err), cartId: cart.id }, 'cart recovery not signalled'));
}

/** POST /carts: a new empty cart in one currency. */
export async function createCart(deps: Deps, input: { currency: string; email?: string; customerId?: string }): Promise<{ kind: 'cart'; cart: PricedCartView }> {
  return { kind: 'cart', cart: await pricedCart(deps, await deps.carts.create(input)) };
}

/** GET /carts/:cartId: the cart, priced now. */
export async function readCart(deps: Deps, cartId: string): Promise<CartResult> {
  const cart = await deps.carts.get(cartId);
  if (!cart) return rejected('not_found', 'no such cart');
  return { kind: 'cart', cart: await pricedCart(deps, cart) };
}

/**
 * PUT /carts/:cartId/lines/:sku (quantity 0 = DELETE): sets a line and answers with the
 * priced cart. An added product must be on sale; the Lua script checks the cart exists,
 * its currency and that no checkout holds its lines (no separate read of the cart first).
 */
export async function setCartLine(deps: Deps, cartId: string, sku: string, quantity: number): Promise<CartResult> {
  let currency: string | undefined;
  if (quantity > 0) {
    const product = await getProduct(deps.dbs.catalog, sku);
    if (!product || !product.active) return rejected('not_found', 'no such product');
    currency = product.currency;
  }
  let changed: StoredCart | null;
  try {
    changed = await deps.carts.setLine(cartId, sku, quantity, { currency });
  } catch (err) {
    if (err instanceof TooManyLinesError) return rejected('invalid_request', err.message);
    if (err instanceof CartLockedError) {
      return rejected('checkout_in_progress', 'a checkout of this cart is running; its lines cannot change until it ends', {
        checkoutId: err.checkoutId,
      });
    }
    if (err instanceof CurrencyMismatchError) return rejected('invalid_request', `this product is priced in ${currency ?? '?'}, the cart in ${err.cartCurrency}`);
    throw err;
  }
  if (!changed) return rejected('not_found', 'no such cart');
  const priced = await pricedCart(deps, changed);
  await restartRecovery(deps, changed);
  return { kind: 'cart', cart: priced };
}
