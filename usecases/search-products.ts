import { z } from 'zod';
import type { Databases } from '../db/client';
import { isCircuitOpen, type CircuitBreaker } from '../db/stores/circuit-breakers';
import type { Product } from '../db/schema/catalog';
import { SearchUnavailableError, type SearchQuery } from '../db/search-engine/queries';
import type { SearchIndex } from '../db/search-engine/search-index';
import { getProduct } from '../db/stores/catalog';
import { isUsableCursor, type ProductCursor, type ProductSort } from '../db/stores/catalog-cursors';
import { productFacets } from '../db/stores/catalog-facets';
import { listProducts, suggestProducts } from '../db/stores/catalog-search';
import { skusInStock, stockLevels } from '../db/stores/inventory';
import type { Logger } from '../logger';
import { rejected, type Rejected } from './result';
import { SearchTiming } from './search-timing';

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
const badCursor = (message: string): Rejected => rejected('invalid_request', 'invalid query', [{ field: 'cursor', message }]);

function decodeCursor(raw: string, sort: ProductSort): Cursor | Rejected {
  let parsed: Cursor;
  try {
    parsed = cursorSchema.parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
  } catch {
    return badCursor('not a cursor this API issued');
  }
  return parsed.o === sort ? parsed : badCursor('this cursor belongs to another sort or search');
}

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

/** A catalog query as the storefront sends it: the engine's filters and sorts, and our opaque cursor. */
export type ProductListQuery = Omit<SearchQuery, 'after'> & { cursor?: string };

/** Which engine answered: `postgres` is the degraded path the edge tells clients and caches about. */
export type Engine = 'elasticsearch' | 'postgres';

/**
 * Catalog reads: Elasticsearch when it answers, PostgreSQL full text when it does not. The
 * search breaker (shared by every API process through Redis) decides when the engine is not
 * even tried: after N failures in its window, searches go straight to PostgreSQL for the
 * cool-down, then one request probes the engine (issue 19).
 */
export class ProductSearch {
  constructor(private readonly deps: { dbs: Databases; search: SearchIndex; logger: Logger; breaker?: CircuitBreaker }) {}

  /** One call to the engine, through the breaker: a refusal is a SearchUnavailableError like an outage. */
  private engine<T>(call: () => Promise<T>): Promise<T> {
    const { breaker } = this.deps;
    if (!breaker) return call();
    return breaker.run(call, {
      isOutage: (err) => err instanceof SearchUnavailableError,
      onOpen: (refusal) => Object.assign(new SearchUnavailableError(refusal.message), { circuitOpen: true, retryAfterMs: refusal.retryAfterMs }),
    });
  }

  private failed(err: unknown): void {
    if (!isCircuitOpen(err)) this.deps.logger.warn({ err }, 'search engine unavailable: answering from PostgreSQL');
  }

  /** `timing` records the steps (engine through the breaker, the engine's own call, the availability read). */
  async list(query: ProductListQuery, timing = new SearchTiming()) {
    let typed: Cursor | undefined;
    if (query.cursor) {
      const decoded = decodeCursor(query.cursor, query.sort);
      if ('kind' in decoded) return decoded;
      typed = decoded;
    }
    if (typed?.e !== 'pg') {
      try {
        return { kind: 'page' as const, engine: 'elasticsearch' as Engine, body: await this.fromSearchEngine(query, typed, timing) };
      } catch (err) {
        if (!(err instanceof SearchUnavailableError)) throw err;
        this.failed(err);
      }
    }
    let keyset: ProductCursor | undefined;
    if (typed) {
      if (typed.e !== 'pg') return badCursor('this cursor came from the search engine, which is unavailable: start again from the first page');
      keyset = { key: typed.k, sku: typed.i };
      if (!isUsableCursor(query, keyset)) return badCursor('this cursor belongs to another sort or search');
    }
    return { kind: 'page' as const, engine: 'postgres' as Engine, body: await this.fromPostgres(query, keyset, timing) };
  }

  async suggest(q: string): Promise<{ engine: Engine; items: { sku: string; name: string }[] }> {
    try {
      return { engine: 'elasticsearch', items: await this.engine(() => this.deps.search.suggest(q)) };
    } catch (err) {
      if (!(err instanceof SearchUnavailableError)) throw err;
      this.failed(err);
    }
    return { engine: 'postgres', items: await suggestProducts(this.deps.dbs.catalog, q) };
  }

  async get(sku: string) {
    const product = await getProduct(this.deps.dbs.catalog, sku);
    if (!product || !product.active) return rejected('not_found', 'no such product');
    const level = (await stockLevels(this.deps.dbs.inventory, [sku])).get(sku);
    return { kind: 'product' as const, product: presentProduct(product, level?.available ?? 0) };
  }

  /** Elasticsearch: relevance, facets and filters in one request; live availability in one query. */
  private async fromSearchEngine(query: ProductListQuery, cursor: Cursor | undefined, timing: SearchTiming) {
    const after = cursor?.e === 'es' ? cursor.a : undefined;
    const page = await timing.time('engine', () => this.engine(() => timing.time('es', () => this.deps.search.search({ ...query, after }))));
    const levels = await timing.time('stock', () => stockLevels(this.deps.dbs.inventory, page.items.map((p) => p.sku)));
    return {
      items: page.items.map((h) => presentProduct({ ...h, priceAmount: h.price }, levels.get(h.sku)?.available ?? 0)),
      nextCursor: page.after ? encodeCursor({ e: 'es', o: query.sort, a: page.after }) : null,
      facets: page.facets,
    };
  }

  /** PostgreSQL full text (the degraded path): same filters, sorts and facets, coarser relevance. */
  private async fromPostgres(query: ProductListQuery, keyset: ProductCursor | undefined, timing: SearchTiming) {
    const { dbs } = this.deps;
    const skus = query.inStock ? await skusInStock(dbs.inventory) : undefined;
    const [page, facets] = await timing.time('pg', () => Promise.all([listProducts(dbs.catalog, { ...query, cursor: keyset, skus }), productFacets(dbs.catalog, { ...query, skus })]));
    const levels = await timing.time('stock', () => stockLevels(dbs.inventory, page.items.map((p) => p.sku)));
    return {
      items: page.items.map((p) => presentProduct(p, levels.get(p.sku)?.available ?? 0)),
      nextCursor: page.next ? encodeCursor({ e: 'pg', o: query.sort, k: page.next.key, i: page.next.sku }) : null,
      facets,
    };
  }
}
