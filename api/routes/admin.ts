import { Router } from 'express';
import { setStock } from '../../usecases/set-stock';
import { cancelParkedOrder, retryParkedOrder } from '../../usecases/support-actions';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { setInventoryBodySchema, skuSchema } from '../schemas/catalog';
import { cancelBodySchema, orderIdSchema } from '../schemas/orders';
import { parse } from '../validate';

/** Operations routes (the caller mounts them behind requireAdmin). */
export function adminRouter(deps: AppDeps): Router {
  const router = Router();

  router.put('/inventory/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const { onHand } = parse(setInventoryBodySchema, req.body, 'inventory');
    const result = await setStock(deps, sku, onHand);
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.json(result.level);
  });

  router.post('/orders/:orderId/retry', async (req, res) => {
    const orderId = parse(orderIdSchema, req.params.orderId, 'order id');
    const result = await retryParkedOrder(deps, orderId);
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.status(202).json({ orderId, action: 'retry', parkedBecause: result.parkedBecause });
  });

  router.post('/orders/:orderId/cancel', async (req, res) => {
    const orderId = parse(orderIdSchema, req.params.orderId, 'order id');
    const { reason } = parse(cancelBodySchema, req.body ?? {}, 'cancel');
    const result = await cancelParkedOrder(deps, orderId, reason);
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.status(202).json({ orderId, action: 'cancel', reason });
  });

  return router;
}
