import { Router } from 'express';
import { z } from 'zod';
import { getProduct, isUsableCursor, listProducts, suggestProducts, type ProductCursor, type ProductSort } from '../../db/stores/catalog';
import { skusInStock, stockLevels } from '../../db/stores/inventory';
import type { Product } from '../../db/schema/catalog';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { productListQuerySchema, skuSchema, suggestQuerySchema } from '../schemas/catalog';
import { parse } from '../validate';

/** The opaque cursor: the sort it belongs to, the last item's sort key and its sku. */
const cursorSchema = z.object({ o: z.string(), k: z.string().max(1_000), i: z.string().min(1).max(200) }).strict();

function encodeCursor(sort: ProductSort, c: ProductCursor): string {
  return Buffer.from(JSON.stringify({ o: sort, k: c.key, i: c.sku })).toString('base64url');
}

function badCursor(message: string): AppError {
  return new AppError('invalid_request', 'invalid query', [{ field: 'cursor', message }]);
}

function decodeCursor(raw: string, query: { sort: ProductSort; q?: string }): ProductCursor {
  let parsed: z.infer<typeof cursorSchema>;
  try {
    parsed = cursorSchema.parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
  } catch {
    throw badCursor('not a cursor this API issued');
  }
  const cursor = { key: parsed.k, sku: parsed.i };
  if (parsed.o !== query.sort || !isUsableCursor(query, cursor)) throw badCursor('this cursor belongs to another sort or search');
  return cursor;
}

/** The storefront's Product shape: catalog data plus availability from inventory. */
export function presentProduct(p: Product, available: number) {
  return {
    sku: p.sku,
    name: p.name,
    description: p.description,
    ...(p.category ? { category: p.category } : {}),
    attributes: p.attributes,
    price: { amount: p.priceAmount, currency: p.currency },
    available,
  };
}

export function productsRouter({ dbs }: AppDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const query = parse(productListQuerySchema, req.query, 'query');
    const cursor = query.cursor ? decodeCursor(query.cursor, query) : undefined;
    const skus = query.inStock ? await skusInStock(dbs.inventory) : undefined;
    const page = await listProducts(dbs.catalog, { ...query, cursor, skus });
    const levels = await stockLevels(dbs.inventory, page.items.map((p) => p.sku));
    res.set('Cache-Control', 'public, max-age=5');
    res.json({
      items: page.items.map((p) => presentProduct(p, levels.get(p.sku)?.available ?? 0)),
      nextCursor: page.next ? encodeCursor(query.sort, page.next) : null,
    });
  });

  router.get('/suggest', async (req, res) => {
    const { q } = parse(suggestQuerySchema, req.query, 'query');
    res.json({ items: await suggestProducts(dbs.catalog, q) });
  });

  router.get('/:sku', async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const product = await getProduct(dbs.catalog, sku);
    if (!product || !product.active) throw new AppError('not_found', 'no such product');
    const level = (await stockLevels(dbs.inventory, [sku])).get(sku);
    res.set('Cache-Control', 'public, max-age=5');
    res.json(presentProduct(product, level?.available ?? 0));
  });

  return router;
}
