import { Router } from 'express';
import { getProduct } from '../../db/stores/catalog';
import { setOnHand } from '../../db/stores/inventory';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { setInventoryBodySchema, skuSchema } from '../schemas/catalog';
import { parse } from '../validate';

/** Operations routes (the caller mounts them behind requireAdmin). */
export function adminRouter({ dbs }: AppDeps): Router {
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
    res.json(result.level);
  });

  return router;
}
