import { Router } from 'express';
import { kickSearchSync } from '../../temporal/search-sync';
import { deactivateProduct, upsertProduct } from '../../db/stores/catalog';
import { stockLevels } from '../../db/stores/inventory';
import type { Product } from '../../db/schema/catalog';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { productBodySchema, skuSchema } from '../schemas/catalog';
import { parse } from '../validate';
import { presentProduct } from '../../usecases/search-products';

/**
 * Catalog management (mounted behind requireAdmin). Each write commits the product and its
 * search-outbox row together; waking the sync afterwards only shortens the lag, since the
 * sync also drains the outbox on its own every tick and the sweep Schedule restarts it.
 */
export function adminProductsRouter({ dbs, temporal, config, logger }: AppDeps): Router {
  const router = Router();

  const wakeSearchSync = async () => {
    try {
      await kickSearchSync(temporal, config);
    } catch (err) {
      logger.warn({ err }, 'could not wake the search sync; the outbox keeps the change');
    }
  };

  const present = async (p: Product) => {
    const level = (await stockLevels(dbs.inventory, [p.sku])).get(p.sku);
    return { ...presentProduct(p, level?.available ?? 0), active: p.active, version: p.version };
  };

  router.put('/products/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const body = parse(productBodySchema, req.body, 'product');
    const product = await upsertProduct(dbs.catalog, {
      sku,
      name: body.name,
      description: body.description,
      category: body.category ?? null,
      attributes: body.attributes,
      priceAmount: body.price.amount,
      currency: body.price.currency,
      active: body.active,
    });
    await wakeSearchSync();
    res.json(await present(product));
  });

  router.delete('/products/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const product = await deactivateProduct(dbs.catalog, sku);
    if (!product) throw new AppError('not_found', 'no such product');
    await wakeSearchSync();
    res.json(await present(product));
  });

  return router;
}
