import { Router } from 'express';
import { getProduct } from '../../db/stores/catalog';
import { setOnHand } from '../../db/stores/inventory';
import { getCheckout } from '../../db/stores/checkouts';
import { getOrderCheckoutId } from '../../db/stores/orders';
import { cancelSignal, checkoutStatusQuery, retrySignal } from '../../workflows/messages';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { setInventoryBodySchema, skuSchema } from '../schemas/catalog';
import { parse } from '../validate';
import { cancelBodySchema, orderIdSchema } from '../schemas/orders';

/** Operations routes (the caller mounts them behind requireAdmin). */
export function adminRouter({ dbs, temporal }: AppDeps): Router {
  const router = Router();

  router.put('/inventory/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const { onHand } = parse(setInventoryBodySchema, req.body, 'inventory');
    if (!(await getProduct(dbs.catalog, sku))) throw new AppError('not_found', 'no such product');
    const result = await setOnHand(dbs.inventory, sku, onHand);
    if (result.status === 'below_reserved') {
      throw new AppError('inventory_conflict', 'on hand cannot go below what is reserved by open checkouts', {
        sku,
        requestedOnHand: onHand,
        reserved: result.level.reserved,
        onHand: result.level.onHand,
      });
    }
    const { onHand: counted, reserved, available } = result.level;
    res.json({ sku, onHand: counted, reserved, available });
  });

  /** The checkout workflow of an order, if it is parked waiting for support. */
  async function parkedCheckout(orderId: string) {
    const checkoutId = await getOrderCheckoutId(dbs.order, orderId);
    if (!checkoutId) throw new AppError('not_found', 'no such order');
    const checkout = await getCheckout(dbs.order, checkoutId);
    if (!checkout?.runId) throw new AppError('not_found', 'no checkout for this order');
    const handle = temporal.workflow.getHandle(checkout.workflowId, checkout.runId);
    const status = await handle.query(checkoutStatusQuery).catch(() => undefined);
    if (status?.step !== 'needs_attention') {
      throw new AppError('order_not_parked', 'this order is not waiting for support (use refunds for a paid order)', {
        step: status?.step ?? 'closed',
      });
    }
    return { handle, status };
  }

  router.post('/orders/:orderId/retry', async (req, res) => {
    const orderId = parse(orderIdSchema, req.params.orderId, 'order id');
    const { handle, status } = await parkedCheckout(orderId);
    await handle.signal(retrySignal);
    res.status(202).json({ orderId, action: 'retry', parkedBecause: status.lastError });
  });

  router.post('/orders/:orderId/cancel', async (req, res) => {
    const orderId = parse(orderIdSchema, req.params.orderId, 'order id');
    const { reason } = parse(cancelBodySchema, req.body ?? {}, 'cancel');
    const { handle } = await parkedCheckout(orderId);
    await handle.signal(cancelSignal, { reason });
    res.status(202).json({ orderId, action: 'cancel', reason });
  });

  return router;
}
