import { Router, type Response } from 'express';
import { z } from 'zod';
import { getProduct } from '../../db/stores/catalog';
import { isUsableCursor, type ProductCursor, type ProductSort } from '../../db/stores/catalog-cursors';
import { productFacets } from '../../db/stores/catalog-facets';
import { listProducts, suggestProducts } from '../../db/stores/catalog-search';
import { skusInStock, stockLevels } from '../../db/stores/inventory';
import { SearchUnavailableError } from '../../db/search-engine/queries';
import { SearchIndex } from '../../db/search-engine/search-index';
import type { Product } from '../../db/schema/catalog';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { productListQuerySchema, skuSchema, suggestQuerySchema } from '../schemas/catalog';
import { parse } from '../validate';

/**
 * The opaque cursor names the engine that issued it: `es` carries Elasticsearch's
 * search_after values, `pg` the PostgreSQL keyset (the sort key as text and the sku).
 */
const sortValue = z.union([z.string().max(1_000), z.number().finite(), z.null()]);
const cursorSchema = z.discriminatedUnion('e', [
  z.object({ e: z.literal('es'), o: z.string(), a: z.array(sortValue).min(1).max(3) }).strict(),
  z.object({ e: z.literal('pg'), o: z.string(), k: z.string().max(1_000), i: z.string().min(1).max(200) }).strict(),
]);
type Cursor = z.infer<typeof cursorSchema>;

const encodeCursor = (c: Cursor): string => Buffer.from(JSON.stringify(c)).toString('base64url');

function badCursor(message: string): AppError {
  return new AppError('invalid_request', 'invalid query', [{ field: 'cursor', message }]);
}

function decodeCursor(raw: string, sort: ProductSort): Cursor {
  let parsed: Cursor;
  try {
    parsed = cursorSchema.parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
  } catch {
    throw badCursor('not a cursor this API issued');
  }
  if (parsed.o !== sort) throw badCursor('this cursor belongs to another sort or search');
  return parsed;
}

function pgCursor(c: Cursor, query: { sort: ProductSort; q?: string }): ProductCursor {
  if (c.e !== 'pg') throw badCursor('this cursor came from the search engine, which is unavailable: start again from the first page');
  const cursor = { key: c.k, sku: c.i };
  if (!isUsableCursor(query, cursor)) throw badCursor('this cursor belongs to another sort or search');
  return cursor;
}

/** After Elasticsearch failed, searches go straight to PostgreSQL for this long. */
const SEARCH_RETRY_AFTER_MS = 2_000;

/** The storefront's Product shape: catalog data plus availability from inventory. */
export function presentProduct(p: Pick<Product, 'sku' | 'name' | 'description' | 'category' | 'attributes' | 'priceAmount' | 'currency'>, available: number) {
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

/** Which engine answered, for clients, CDNs and tests (`degraded` when it is the fallback). */
function engineHeaders(res: Response, engine: 'elasticsearch' | 'postgres') {
  res.set('X-Search-Engine', engine);
  if (engine === 'postgres') {
    res.set('X-Search-Degraded', 'true');
    res.set('Cache-Control', 'public, max-age=1');
  } else {
    res.set('Cache-Control', 'public, max-age=5');
  }
}

export function productsRouter({ dbs, config, logger, search: injected }: AppDeps): Router {
  const router = Router();
  const search = injected ?? new SearchIndex(config);
  let searchDownUntil = 0;
  const searchUsable = () => Date.now() >= searchDownUntil;
  const searchFailed = (err: unknown) => {
    if (searchUsable()) logger.warn({ err }, 'search engine unavailable: answering from PostgreSQL');
    searchDownUntil = Date.now() + SEARCH_RETRY_AFTER_MS;
  };

  /** Elasticsearch: relevance, facets and filters in one request; live availability in one query. */
  async function fromSearchEngine(query: z.infer<typeof productListQuerySchema>, cursor: Cursor | undefined) {
    if (cursor && cursor.e !== 'es') throw badCursor('this cursor came from the PostgreSQL fallback: start again from the first page');
    const page = await search.search({ ...query, after: cursor?.a });
    const levels = await stockLevels(dbs.inventory, page.items.map((p) => p.sku));
    return {
      items: page.items.map((h) => presentProduct({ ...h, priceAmount: h.price }, levels.get(h.sku)?.available ?? 0)),
      nextCursor: page.after ? encodeCursor({ e: 'es', o: query.sort, a: page.after }) : null,
      facets: page.facets,
    };
  }

  /** PostgreSQL full text (the degraded path): same filters, sorts and facets, coarser relevance. */
  async function fromPostgres(query: z.infer<typeof productListQuerySchema>, cursor: Cursor | undefined) {
    const keyset = cursor ? pgCursor(cursor, query) : undefined;
    const skus = query.inStock ? await skusInStock(dbs.inventory) : undefined;
    const [page, facets] = await Promise.all([listProducts(dbs.catalog, { ...query, cursor: keyset, skus }), productFacets(dbs.catalog, { ...query, skus })]);
    const levels = await stockLevels(dbs.inventory, page.items.map((p) => p.sku));
    return {
      items: page.items.map((p) => presentProduct(p, levels.get(p.sku)?.available ?? 0)),
      nextCursor: page.next ? encodeCursor({ e: 'pg', o: query.sort, k: page.next.key, i: page.next.sku }) : null,
      facets,
    };
  }

  router.get('/', async (req, res) => {
    const query = parse(productListQuerySchema, req.query, 'query');
    const cursor = query.cursor ? decodeCursor(query.cursor, query.sort) : undefined;
    if (searchUsable() && cursor?.e !== 'pg') {
      try {
        const body = await fromSearchEngine(query, cursor);
        engineHeaders(res, 'elasticsearch');
        res.json(body);
        return;
      } catch (err) {
        if (!(err instanceof SearchUnavailableError)) throw err;
        searchFailed(err);
      }
    }
    const body = await fromPostgres(query, cursor);
    engineHeaders(res, 'postgres');
    res.json(body);
  });

  router.get('/suggest', async (req, res) => {
    const { q } = parse(suggestQuerySchema, req.query, 'query');
    if (searchUsable()) {
      try {
        const items = await search.suggest(q);
        engineHeaders(res, 'elasticsearch');
        res.json({ items });
        return;
      } catch (err) {
        if (!(err instanceof SearchUnavailableError)) throw err;
        searchFailed(err);
      }
    }
    engineHeaders(res, 'postgres');
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
