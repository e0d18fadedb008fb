import { priceLines } from '../db/stores/catalog';
import type { PricedCart } from '../workflows/messages';
import type { ActivityDeps } from './deps';
import { businessFailure } from './failures';

export function cartActivities({ carts, dbs }: ActivityDeps) {
  return {
    /** Prices the cart from the catalog as it is now; a product no longer sold cannot be bought. */
    async priceCart(cartId: string): Promise<PricedCart> {
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
    },

    /** Empties the cart once the order is paid. */
    async clearCart(cartId: string): Promise<void> {
      await carts.clear(cartId);
    },
  };
}
