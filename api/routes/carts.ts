import { Router } from 'express';
import { getProduct } from '../../db/stores/catalog';
import { priceLines } from '../../db/stores/pricing';
import { CartLockedError, CurrencyMismatchError, TooManyLinesError, type CartStore, type StoredCart } from '../../db/stores/cart';
import { signalCartRecovery } from '../../temporal/cart-recovery';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { cartIdSchema, createCartBodySchema, setLineBodySchema } from '../schemas/carts';
import { skuSchema } from '../schemas/catalog';
import { parse } from '../validate';

export function cartsRouter({ dbs, config, temporal, logger }: AppDeps, carts: CartStore): Router {
  const router = Router();
  const lineBody = setLineBodySchema(config.cart.maxQuantityPerLine);

  /** Carts hold no prices: each read prices the lines from the catalog as it is now. */
  async function present(cart: StoredCart) {
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

  /**
   * Every change of a cart with an email and lines (re)starts its reminder clock. A failure
   * here must not fail the cart write: the cart-recovery Schedule's sweep catches up.
   */
  async function restartRecovery(cart: StoredCart): Promise<void> {
    if (!cart.email || cart.lines.length === 0) return;
    await signalCartRecovery(temporal, config.temporal.taskQueue, config.recovery, {
      id: cart.id,
      version: cart.version,
      updatedAt: Date.parse(cart.updatedAt),
    }).catch((err: unknown) => logger.warn({ err: String(err), cartId: cart.id }, 'cart recovery not signalled'));
  }

  async function load(cartId: unknown): Promise<StoredCart> {
    const id = parse(cartIdSchema, cartId, 'cart id');
    const cart = await carts.get(id);
    if (!cart) throw new AppError('not_found', 'no such cart');
    return cart;
  }

  /**
   * Changes a line and answers with the priced cart: the Lua script checks the cart exists
   * and its currency (no separate read of the cart first), then the changed cart is priced.
   */
  async function setLine(cartId: string, sku: string, quantity: number, currency?: string) {
    try {
      const changed = await carts.setLine(cartId, sku, quantity, { currency });
      if (!changed) throw new AppError('not_found', 'no such cart');
      const priced = await present(changed);
      await restartRecovery(changed);
      return priced;
    } catch (err) {
      if (err instanceof TooManyLinesError) throw new AppError('invalid_request', err.message);
      if (err instanceof CartLockedError) {
        throw new AppError('checkout_in_progress', 'a checkout of this cart is running; its lines cannot change until it ends', {
          checkoutId: err.checkoutId,
        });
      }
      if (err instanceof CurrencyMismatchError) throw new AppError('invalid_request', `this product is priced in ${currency ?? '?'}, the cart in ${err.cartCurrency}`);
      throw err;
    }
  }

  router.post('/', async (req, res) => {
    const body = parse(createCartBodySchema, req.body ?? {}, 'cart');
    const cart = await carts.create(body);
    res.status(201).location(`/carts/${cart.id}`).json(await present(cart));
  });

  router.get('/:cartId', async (req, res) => {
    res.json(await present(await load(req.params.cartId)));
  });

  router.put('/:cartId/lines/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const { quantity } = parse(lineBody, req.body, 'line');
    const cartId = parse(cartIdSchema, req.params.cartId, 'cart id');
    let currency: string | undefined;
    if (quantity > 0) {
      const product = await getProduct(dbs.catalog, sku);
      if (!product || !product.active) throw new AppError('not_found', 'no such product');
      currency = product.currency;
    }
    res.json(await setLine(cartId, sku, quantity, currency));
  });

  router.delete('/:cartId/lines/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    res.json(await setLine(parse(cartIdSchema, req.params.cartId, 'cart id'), sku, 0));
  });

  return router;
}
