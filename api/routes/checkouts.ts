import { Router, type Response } from 'express';
import type { CartStore } from '../../db/stores/cart';
import { checkoutStatus } from '../../usecases/checkout-status';
import { confirmCheckout } from '../../usecases/confirm-checkout';
import { placeCheckout, type PlaceCheckoutResult } from '../../usecases/place-checkout';
import { customerOf } from '../customer-auth';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { requestHash, requireIdempotencyKey } from '../idempotency';
import { checkoutBodySchema } from '../schemas/checkouts';
import { checkoutIdSchema } from '../schemas/orders';
import { parse } from '../validate';

/** POST /checkouts's answer: 201 placed, 202 pending (Location: its status), or the failure's 4xx. */
function sendPlaceCheckoutResult(res: Response, result: PlaceCheckoutResult): void {
  switch (result.kind) {
    case 'placed':
      res.status(201).json(result.view);
      return;
    case 'pending':
      res.status(202).location(result.view.statusUrl).json(result.view);
      return;
    case 'failed':
      throw Object.assign(new AppError(result.code, result.message, result.details), { retryAfterSeconds: result.retryAfterSecondsNow });
    case 'rejected':
      throw new AppError(result.code, result.message, result.details);
  }
}

export function checkoutsRouter(deps: AppDeps & { carts: CartStore }): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const key = requireIdempotencyKey(req);
    const body = parse(checkoutBodySchema, req.body, 'checkout');
    sendPlaceCheckoutResult(res, await placeCheckout(deps, { key, requestHash: requestHash(body) }, body, customerOf(res)));
  });

  router.post('/:checkoutId/confirm', async (req, res) => {
    const checkoutId = parse(checkoutIdSchema, req.params.checkoutId, 'checkout id');
    sendPlaceCheckoutResult(res, await confirmCheckout(deps, checkoutId, customerOf(res)));
  });

  router.get('/:checkoutId', async (req, res) => {
    const result = await checkoutStatus(deps, parse(checkoutIdSchema, req.params.checkoutId, 'checkout id'), customerOf(res));
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.json(result.view);
  });

  return router;
}
