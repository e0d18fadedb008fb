import { Router } from 'express';
import type { CartStore } from '../../db/stores/cart';
import { createCart, readCart, setCartLine, type CartResult } from '../../usecases/change-cart';
import { customerOf } from '../customer-auth';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { cartIdSchema, createCartBodySchema, setLineBodySchema } from '../schemas/carts';
import { skuSchema } from '../schemas/catalog';
import { parse } from '../validate';

/** The priced cart, or the refusal as its HTTP error. */
function cartOf(result: CartResult) {
  if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
  return result.cart;
}

export function cartsRouter(deps: AppDeps, carts: CartStore): Router {
  const router = Router();
  const withCarts = { ...deps, carts };
  const lineBody = setLineBodySchema(deps.config.cart.maxQuantityPerLine);

  router.post('/', async (req, res) => {
    const cart = cartOf(await createCart(withCarts, parse(createCartBodySchema, req.body ?? {}, 'cart'), customerOf(res)));
    res.status(201).location(`/carts/${cart.id}`).json(cart);
  });

  router.get('/:cartId', async (req, res) => {
    res.json(cartOf(await readCart(withCarts, parse(cartIdSchema, req.params.cartId, 'cart id'), customerOf(res))));
  });

  router.put('/:cartId/lines/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const { quantity } = parse(lineBody, req.body, 'line');
    const cartId = parse(cartIdSchema, req.params.cartId, 'cart id');
    res.json(cartOf(await setCartLine(withCarts, cartId, sku, quantity, customerOf(res))));
  });

  router.delete('/:cartId/lines/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    res.json(cartOf(await setCartLine(withCarts, parse(cartIdSchema, req.params.cartId, 'cart id'), sku, 0, customerOf(res))));
  });

  return router;
}
