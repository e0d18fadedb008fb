import { Router, type Response } from 'express';
import { ADMIN_TOKEN_ACTOR } from '../../domain/support';
import { setStock, stockHistory } from '../../usecases/set-stock';
import { cancelParkedOrder, retryParkedOrder } from '../../usecases/support-actions';
import { actorOf, requireRole } from '../auth';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { setInventoryBodySchema, skuSchema } from '../schemas/catalog';
import { cancelBodySchema, orderIdSchema, retryBodySchema } from '../schemas/orders';
import { parse } from '../validate';

/** The reason a stock change records: a person must give one; ADMIN_API_TOKEN's old clients (API.md's `{ onHand }`) may not. */
function stockReason(res: Response, reason: string | undefined): string {
  if (reason) return reason;
  if (actorOf(res).id === ADMIN_TOKEN_ACTOR.id) return 'no reason given (ADMIN_API_TOKEN)';
  throw new AppError('invalid_request', 'invalid inventory', [{ field: 'reason', message: 'required: say why the stock changes (recorded in the audit)' }]);
}

/** Support (orders) and operations (stock) routes: each states its role; the actor is recorded. */
export function adminRouter(deps: AppDeps): Router {
  const router = Router();

  router.put('/inventory/:sku', requireRole('operations'), async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const { onHand, reason } = parse(setInventoryBodySchema, req.body, 'inventory');
    const result = await setStock(deps, sku, onHand, { actor: actorOf(res), reason: stockReason(res, reason) });
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.json(result.level);
  });

  router.get('/inventory/:sku/changes', requireRole('operations'), async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    res.json({ items: await stockHistory(deps, sku) });
  });

  router.post('/orders/:orderId/retry', requireRole('support'), async (req, res) => {
    const orderId = parse(orderIdSchema, req.params.orderId, 'order id');
    const { reason } = parse(retryBodySchema, req.body ?? {}, 'retry');
    const result = await retryParkedOrder(deps, orderId, { actor: actorOf(res), reason });
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.status(202).json({ orderId, action: 'retry', parkedBecause: result.parkedBecause });
  });

  router.post('/orders/:orderId/cancel', requireRole('support'), async (req, res) => {
    const orderId = parse(orderIdSchema, req.params.orderId, 'order id');
    const { reason } = parse(cancelBodySchema, req.body ?? {}, 'cancel');
    const result = await cancelParkedOrder(deps, orderId, { actor: actorOf(res), reason });
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.status(202).json({ orderId, action: 'cancel', reason });
  });

  return router;
}
