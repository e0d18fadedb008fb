import { Router } from 'express';
import { kickSearchSync } from '../../temporal/search-sync';
import { deactivateProductChanged, recordProductChange, writeProduct } from '../../db/stores/catalog';
import { stockLevels } from '../../db/stores/inventory';
import type { Product } from '../../db/schema/catalog';
import { actorOf, requireRole } from '../auth';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { deactivateProductBodySchema, productBodySchema, skuSchema } from '../schemas/catalog';
import { parse } from '../validate';
import { presentProduct } from '../../usecases/search-products';

/**
 * Catalog management (role `operations`; each change is audited with its actor and reason in
 * catalog.product_changes, in the change's own transaction). Each write commits the product and its
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

  router.use('/products', requireRole('operations'));

  router.put('/products/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const body = parse(productBodySchema, req.body, 'product');
    const actor = actorOf(res);
    const product = await dbs.catalog.transaction(async (tx) => {
      const { product: written, changed } = await writeProduct(tx, {
        sku,
        name: body.name,
        description: body.description,
        category: body.category ?? null,
        attributes: body.attributes,
        priceAmount: body.price.amount,
        currency: body.price.currency,
        active: body.active,
      });
      // only a real change is audited: a PUT of what is there keeps the version and records nothing
      if (changed) await recordProductChange(tx, { sku, action: 'upsert', version: written.version, actorId: actor.id, actorName: actor.name, reason: body.reason });
      return written;
    });
    await wakeSearchSync();
    res.json(await present(product));
  });

  router.delete('/products/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const { reason } = parse(deactivateProductBodySchema, req.body ?? {}, 'deactivation');
    const actor = actorOf(res);
    const product = await dbs.catalog.transaction(async (tx) => {
      const deactivated = await deactivateProductChanged(tx, sku);
      // deactivating an inactive product changes nothing: not audited again
      if (deactivated?.changed) {
        const { version } = deactivated.product;
        await recordProductChange(tx, { sku, action: 'deactivate', version, actorId: actor.id, actorName: actor.name, reason });
      }
      return deactivated?.product;
    });
    if (!product) throw new AppError('not_found', 'no such product');
    await wakeSearchSync();
    res.json(await present(product));
  });

  return router;
}
