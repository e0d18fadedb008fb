import { priceLines } from '../db/stores/pricing';
import { freezeCheckoutCart, getFrozenCart } from '../db/stores/checkouts';
import type { PricedCart } from '../domain/cart';
import type { ActivityDeps } from './deps';
import { businessFailure } from './failures';

export function cartActivities({ carts, dbs }: ActivityDeps) {
  /** Prices the cart from the catalog as it is now; a product no longer sold cannot be bought. */
  async function priceCart(cartId: string): Promise<PricedCart> {
    const cart = await carts.get(cartId);
    if (!cart) throw businessFailure('not_found', 'no such cart');
    if (cart.lines.length === 0) throw businessFailure('cart_empty', 'the cart is empty');
    const priced = await priceLines(dbs.catalog, cart.lines, cart.currency);
    if (priced.unavailable.length > 0) {
      const requested = new Map(cart.lines.map((l) => [l.sku, l.quantity]));
      throw businessFailure('out_of_stock', 'some items are no longer sold', {
        items: priced.unavailable.map((sku) => ({ sku, requested: requested.get(sku) ?? 0, available: 0 })),
      });
    }
    return { cartId, currency: cart.currency, lines: priced.lines, total: priced.total };
  }

  return {
    /** Histories recorded before frozen carts price the live cart on every run. */
    priceCart,

    /**
     * Prices the checkout's cart once and freezes it with the checkout: a re-run (after a
     * crash mid-way) gets the first run's lines and total back, whatever the live cart says now.
     */
    async freezeCart(req: { checkoutId: string; cartId: string }): Promise<PricedCart> {
      const frozen = await getFrozenCart(dbs.order, req.checkoutId);
      if (frozen) return frozen;
      return freezeCheckoutCart(dbs.order, req.checkoutId, await priceCart(req.cartId));
    },

    /** Empties the cart once the order is paid (and ends its checkout lock). */
    async clearCart(cartId: string): Promise<void> {
      await carts.clear(cartId);
    },

    /** A failed checkout gives its cart back to the customer's edits. */
    async unlockCart(req: { cartId: string; checkoutId: string }): Promise<void> {
      await carts.unlock(req.cartId, req.checkoutId);
    },
  };
}
