import { Router, type Response } from 'express';
import { SearchIndex } from '../../db/search-engine/search-index';
import { RecommendationStore } from '../../db/stores/recommendations';
import { RecommendationAnswers } from '../../usecases/recommendation-answers';
import type { Recommendations } from '../../usecases/recommend-products';
import { ProductSearch, type Engine } from '../../usecases/search-products';
import { SearchTiming } from '../../usecases/search-timing';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { productListQuerySchema, recommendationsQuerySchema, skuSchema, suggestQuerySchema } from '../schemas/catalog';
import { parse } from '../validate';

/** Which engine answered, for clients, CDNs and tests (`degraded` when it is the fallback). */
function engineHeaders(res: Response, engine: Engine) {
  res.set('X-Search-Engine', engine);
  if (engine === 'postgres') {
    res.set('X-Search-Degraded', 'true');
    res.set('Cache-Control', 'public, max-age=1');
  } else {
    res.set('Cache-Control', 'public, max-age=5');
  }
}

/** Catalog reads: parse, ask the search use case (it picks the engine), answer with its headers. */
export function productsRouter({ dbs, config, logger, search, redis, breakers }: AppDeps): Router {
  const router = Router();
  const products = new ProductSearch({ dbs, logger, search: search ?? new SearchIndex(config), breaker: breakers?.search });
  const recommendations = new RecommendationAnswers({ dbs, logger, recommendations: new RecommendationStore(redis, config.recommendations.keyPrefix) }, config.recommendations.cache);
  /** A cached answer's body and ETag, made once (the same object comes back while it is cached). */
  const bodies = new WeakMap<Recommendations, { json: string; etag?: string }>();

  router.get('/', async (req, res) => {
    const timing = new SearchTiming();
    const result = await products.list(parse(productListQuerySchema, req.query, 'query'), timing);
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    engineHeaders(res, result.engine);
    // where the handler's time went (engine = the search breaker's admission + es; stock = the availability read)
    res.set('Server-Timing', timing.header());
    res.json(result.body);
  });

  router.get('/suggest', async (req, res) => {
    const { engine, items } = await products.suggest(parse(suggestQuerySchema, req.query, 'query').q);
    engineHeaders(res, engine);
    res.json({ items });
  });

  router.get('/:sku', async (req, res) => {
    const result = await products.get(parse(skuSchema, req.params.sku, 'sku'));
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.set('Cache-Control', 'public, max-age=5');
    res.json(result.product);
  });

  router.get('/:sku/recommendations', async (req, res) => {
    const started = performance.now();
    const sku = parse(skuSchema, req.params.sku, 'sku');
    const { limit } = parse(recommendationsQuerySchema, req.query, 'query');
    const result = await recommendations.answer(sku, limit);
    const hit = recommendations.hits.has(result);
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    let body = bodies.get(result);
    if (!body) {
      const json = JSON.stringify({ items: result.items, source: result.source });
      // The weak ETag Express would make from the body (its 'etag fn'); with it set, Express still answers a matching If-None-Match with 304.
      const etag = req.app.get('etag fn') as ((body: string, encoding: string) => string) | undefined;
      body = { json, etag: etag ? etag(json, 'utf8') : undefined };
      bodies.set(result, body);
    }
    res.set('Cache-Control', 'public, max-age=30');
    if (body.etag) res.set('ETag', body.etag);
    res.type('application/json');
    // The handler's own time (stores included), for `npm run bench` and any client that wants it.
    res.set('Server-Timing', `app;dur=${(performance.now() - started).toFixed(2)}, cache;desc=${hit ? 'hit' : 'miss'}`);
    res.send(body.json);
  });

  return router;
}
