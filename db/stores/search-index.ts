import { Client, errors } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import type { Config } from '../../config';
import type { Product } from '../schema/catalog';
import { PRICE_FACET_BUCKETS, type ProductSort } from './catalog';

/**
 * The catalog's search index in Elasticsearch. The API reads and the sync writes through an
 * alias (config.search.alias); `npm run reindex` builds a fresh index behind it and swaps.
 *
 * One mapping for every engine we run: the standard analyzer and a `completion` field only,
 * so the same index works on the jar-launched node used here (no analysis-common, no
 * painless) and on the official distribution from docker-compose.
 */

/** What the index stores per sku. `available`/`inStock` lag the inventory by the stock sync interval. */
export interface SearchDocument {
  sku: string;
  name: string;
  description: string;
  category: string | null;
  attributes: Record<string, string | number | boolean>;
  attributesText: string;
  price: number;
  currency: string;
  active: boolean;
  available: number;
  inStock: boolean;
  createdAt: string;
  productVersion: number;
  stockVersion: number;
  suggest?: { input: string[] };
}

const STOCK_BITS = 2 ** 33;
const MAX_PRODUCT_VERSION = 2 ** 20;

/**
 * The external version of a document: product version first, stock version second, so a
 * change of either moves it up and an older read of both can never overwrite a newer one.
 * (2^20 product edits of one sku and 2^33 stock changes keep it within 2^53.)
 */
export function documentVersion(productVersion: number, stockVersion: number): number {
  if (productVersion >= MAX_PRODUCT_VERSION || stockVersion >= STOCK_BITS) {
    throw new Error(`version out of range for the search index: product ${productVersion}, stock ${stockVersion}`);
  }
  return productVersion * STOCK_BITS + stockVersion;
}

/** Name, then every word-suffix of it, so "Colombian Supremo" is found from "sup" as well as "col". */
function suggestInputs(name: string): string[] {
  const words = name.split(/\s+/).filter(Boolean);
  return [...new Set(words.map((_, i) => words.slice(i).join(' ')))].slice(0, 10);
}

export function toSearchDocument(p: Product, stock: { available: number; version: number } | undefined): SearchDocument {
  const available = Math.max(0, stock?.available ?? 0);
  return {
    sku: p.sku,
    name: p.name,
    description: p.description,
    category: p.category,
    attributes: p.attributes,
    attributesText: Object.entries(p.attributes)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(' '),
    price: p.priceAmount,
    currency: p.currency,
    active: p.active,
    available,
    inStock: available > 0,
    createdAt: p.createdAt.toISOString(),
    productVersion: p.version,
    stockVersion: stock?.version ?? 0,
    // An inactive product keeps its document (so an older version cannot come back) but is
    // neither listed nor suggested.
    ...(p.active ? { suggest: { input: suggestInputs(p.name) } } : {}),
  };
}

export const INDEX_SETTINGS: estypes.IndicesIndexSettings = { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '500ms' };

export const INDEX_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    sku: { type: 'keyword' },
    name: { type: 'text', analyzer: 'standard', fields: { raw: { type: 'keyword', ignore_above: 512 } } },
    description: { type: 'text', analyzer: 'standard' },
    category: { type: 'keyword' },
    attributes: { type: 'object', enabled: false },
    attributesText: { type: 'text', analyzer: 'standard' },
    price: { type: 'long' },
    currency: { type: 'keyword' },
    active: { type: 'boolean' },
    available: { type: 'integer' },
    inStock: { type: 'boolean' },
    createdAt: { type: 'date' },
    productVersion: { type: 'long' },
    stockVersion: { type: 'long' },
    suggest: { type: 'completion', analyzer: 'simple', max_input_length: 100 },
  },
};


export interface SearchQuery {
  q?: string;
  category?: string;
  minPrice?: number;
  maxPrice?: number;
  inStock?: boolean;
  sort: ProductSort;
  limit: number;
  /** The sort values of the previous page's last hit. */
  after?: estypes.FieldValue[];
}

export interface SearchHit {
  sku: string;
  name: string;
  description: string;
  category: string | null;
  attributes: Record<string, string | number | boolean>;
  price: number;
  currency: string;
}

export interface Facets {
  category: { value: string; count: number }[];
  price: { from?: number; to?: number; count: number }[];
}

export interface SearchPage {
  items: SearchHit[];
  after?: estypes.FieldValue[];
  facets: Facets;
  total: number;
}

/** Elasticsearch could not answer (down, timing out, index missing): the caller degrades. */
export class SearchUnavailableError extends Error {}

function sortClause(sort: ProductSort, q: string | undefined): estypes.SortCombinations[] {
  const tiebreak: estypes.SortCombinations = { sku: 'asc' };
  switch (sort) {
    case 'price_asc':
      return [{ price: 'asc' }, tiebreak];
    case 'price_desc':
      return [{ price: 'desc' }, tiebreak];
    case 'newest':
      return [{ createdAt: 'desc' }, tiebreak];
    case 'relevance':
      return q ? [{ _score: { order: 'desc' } }, tiebreak] : [{ 'name.raw': 'asc' }, tiebreak];
    case 'name':
      return [{ 'name.raw': 'asc' }, tiebreak];
  }
}

export interface IndexResult {
  indexed: number;
  /** Already held at this version or a newer one (a replay, or an older read arriving late). */
  stale: number;
}

export class SearchIndex {
  readonly client: Client;
  readonly alias: string;
  private readonly timeoutMs: number;

  constructor(config: Pick<Config, 'search'>, client?: Client) {
    this.alias = config.search.alias;
    this.timeoutMs = config.search.timeoutMs;
    this.client =
      client ??
      new Client({
        node: config.search.url,
        requestTimeout: config.search.timeoutMs,
        maxRetries: 0,
      });
  }

  /** Whether the node answers (cluster health: there is no `GET /` on every engine we run). */
  async healthy(): Promise<boolean> {
    try {
      const h = await this.client.cluster.health({ timeout: '1s' }, { requestTimeout: this.timeoutMs });
      return h.status !== 'red';
    } catch {
      return false;
    }
  }

  /** The concrete index the alias points to, if any. */
  async liveIndex(): Promise<string | undefined> {
    try {
      const res = await this.client.indices.getAlias({ name: this.alias });
      return Object.keys(res)[0];
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /** A new, empty index with our mapping, named after the alias and a timestamp. */
  async createIndex(suffix = `${Date.now()}`): Promise<string> {
    const index = `${this.alias}-${suffix}`;
    await this.client.indices.create({ index, settings: INDEX_SETTINGS, mappings: INDEX_MAPPINGS });
    return index;
  }

  /** Creates the first index and its alias when there is none (safe to race: one wins). */
  async ensureIndex(): Promise<string> {
    const live = await this.liveIndex();
    if (live) return live;
    const index = `${this.alias}-initial`;
    try {
      await this.client.indices.create({ index, settings: INDEX_SETTINGS, mappings: INDEX_MAPPINGS, aliases: { [this.alias]: {} } });
    } catch (err) {
      if (!(err instanceof errors.ResponseError && err.body && JSON.stringify(err.body).includes('resource_already_exists'))) throw err;
    }
    return (await this.liveIndex()) ?? index;
  }

  /** Points the alias at `index` in one atomic step; returns the index it pointed to before. */
  async swapAlias(index: string): Promise<string | undefined> {
    const previous = await this.liveIndex();
    const actions: estypes.IndicesUpdateAliasesAction[] = [{ add: { index, alias: this.alias, is_write_index: true } }];
    if (previous && previous !== index) actions.unshift({ remove: { index: previous, alias: this.alias } });
    await this.client.indices.updateAliases({ actions });
    return previous;
  }

  /**
   * Writes documents with external versions: an older version than the one held is refused
   * by Elasticsearch (counted as stale), so replays and late deliveries cannot go backwards.
   * `index` defaults to the alias (the sync); reindex writes to its new index directly.
   */
  async indexDocuments(docs: SearchDocument[], opts: { index?: string; refresh?: boolean } = {}): Promise<IndexResult> {
    if (docs.length === 0) return { indexed: 0, stale: 0 };
    const index = opts.index ?? this.alias;
    const operations = docs.flatMap((d) => [
      { index: { _index: index, _id: d.sku, version: documentVersion(d.productVersion, d.stockVersion), version_type: 'external' as const } },
      d,
    ]);
    const res = await this.client.bulk(
      { operations, refresh: opts.refresh ?? false, ...(opts.index ? {} : { require_alias: true }) },
      { requestTimeout: Math.max(this.timeoutMs, 30_000) },
    );
    let indexed = 0;
    let stale = 0;
    const failures: string[] = [];
    for (const item of res.items) {
      const r = item.index;
      if (!r) continue;
      if (r.status >= 200 && r.status < 300) indexed++;
      else if (r.status === 409) stale++;
      else failures.push(`${r._id}: ${r.status} ${r.error?.type ?? ''} ${r.error?.reason ?? ''}`);
    }
    if (failures.length > 0) throw new Error(`search index refused ${failures.length} documents: ${failures.slice(0, 3).join('; ')}`);
    return { indexed, stale };
  }

  /** The version held for each sku (audits and tests); missing skus are absent from the map. */
  async indexedVersions(skus: string[]): Promise<Map<string, { productVersion: number; stockVersion: number }>> {
    const out = new Map<string, { productVersion: number; stockVersion: number }>();
    for (let i = 0; i < skus.length; i += 500) {
      const res = await this.client.mget<SearchDocument>({ index: this.alias, ids: skus.slice(i, i + 500), _source_includes: ['productVersion', 'stockVersion'] });
      for (const d of res.docs) {
        if ('found' in d && d.found && d._source) out.set(d._id, { productVersion: d._source.productVersion, stockVersion: d._source.stockVersion });
      }
    }
    return out;
  }

  async refresh(): Promise<void> {
    await this.client.indices.refresh({ index: this.alias });
  }

  /** Full text, filters, facets, sort and search_after paging, in one request. */
  async search(query: SearchQuery): Promise<SearchPage> {
    const filter: estypes.QueryDslQueryContainer[] = [{ term: { active: true } }];
    if (query.inStock) filter.push({ term: { inStock: true } });
    const categoryFilter: estypes.QueryDslQueryContainer[] = query.category ? [{ term: { category: query.category } }] : [];
    const priceFilter: estypes.QueryDslQueryContainer[] =
      query.minPrice !== undefined || query.maxPrice !== undefined ? [{ range: { price: { gte: query.minPrice, lte: query.maxPrice } } }] : [];
    const must: estypes.QueryDslQueryContainer = query.q
      ? {
          multi_match: {
            query: query.q,
            fields: ['name^3', 'category^2', 'attributesText^1.5', 'description'],
            type: 'best_fields',
            fuzziness: 'AUTO',
            prefix_length: 1,
          },
        }
      : { match_all: {} };

    // Facets count what the other facet's filter leaves, so choosing a category still shows
    // the other categories' counts (and the same for price).
    const body: estypes.SearchRequest = {
      index: this.alias,
      size: query.limit + 1,
      query: { bool: { must, filter } },
      post_filter: { bool: { filter: [...categoryFilter, ...priceFilter] } },
      sort: sortClause(query.sort, query.q),
      track_total_hits: true,
      _source: ['sku', 'name', 'description', 'category', 'attributes', 'price', 'currency'],
      aggs: {
        category: { filter: { bool: { filter: priceFilter } }, aggs: { values: { terms: { field: 'category', size: 50, order: { _key: 'asc' } } } } },
        price: { filter: { bool: { filter: categoryFilter } }, aggs: { ranges: { range: { field: 'price', ranges: PRICE_FACET_BUCKETS } } } },
      },
      ...(query.after ? { search_after: query.after } : {}),
    };
    let res: estypes.SearchResponse<SearchHit>;
    try {
      res = await this.client.search<SearchHit>(body);
    } catch (err) {
      throw new SearchUnavailableError(err instanceof Error ? err.message : String(err));
    }
    const hits = res.hits.hits;
    const page = hits.slice(0, query.limit);
    const more = hits.length > query.limit;
    const aggs = res.aggregations as
      | {
          category: { values: { buckets: { key: string; doc_count: number }[] } };
          price: { ranges: { buckets: { from?: number; to?: number; doc_count: number }[] } };
        }
      | undefined;
    const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? 0);
    return {
      items: page.map((h) => h._source).filter((s): s is SearchHit => s !== undefined),
      after: more ? page[page.length - 1]?.sort : undefined,
      total,
      facets: {
        category: (aggs?.category.values.buckets ?? []).map((b) => ({ value: b.key, count: b.doc_count })),
        price: (aggs?.price.ranges.buckets ?? []).map((b) => ({
          ...(b.from !== undefined ? { from: b.from } : {}),
          ...(b.to !== undefined ? { to: b.to } : {}),
          count: b.doc_count,
        })),
      },
    };
  }

  /** Autocomplete from the completion field: prefix of the name or of any word in it. */
  async suggest(prefix: string, size = 10): Promise<{ sku: string; name: string }[]> {
    let res: estypes.SearchResponse<{ sku: string; name: string }>;
    try {
      res = await this.client.search<{ sku: string; name: string }>({
        index: this.alias,
        _source: ['sku', 'name'],
        suggest: { products: { prefix, completion: { field: 'suggest', size, skip_duplicates: true } } },
      });
    } catch (err) {
      throw new SearchUnavailableError(err instanceof Error ? err.message : String(err));
    }
    const options = (res.suggest?.products?.[0]?.options ?? []) as estypes.SearchCompletionSuggestOption<{ sku: string; name: string }>[];
    const seen = new Set<string>();
    const out: { sku: string; name: string }[] = [];
    for (const o of options) {
      if (!o._source || seen.has(o._source.sku)) continue;
      seen.add(o._source.sku);
      out.push({ sku: o._source.sku, name: o._source.name });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
