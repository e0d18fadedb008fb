import type { estypes } from '@elastic/elasticsearch';
import type { ProductSort } from '../stores/catalog-cursors';
import { PRICE_FACET_BUCKETS } from '../stores/catalog-facets';
import type { SearchEngine } from './engine';

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

/** The one request of a storefront search: full text, filters, facets, sort and search_after paging. */
export function searchRequest(alias: string, query: SearchQuery): estypes.SearchRequest {
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
  return {
    index: alias,
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
}

/** Full text, filters, facets, sort and search_after paging, in one request. */
export async function searchDocuments({ client, alias }: SearchEngine, query: SearchQuery): Promise<SearchPage> {
  const body = searchRequest(alias, query);
  let res: estypes.SearchResponse<SearchHit>;
  try {
    res = await client.search<SearchHit>(body);
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
export async function suggestDocuments({ client, alias }: SearchEngine, prefix: string, size = 10): Promise<{ sku: string; name: string }[]> {
  let res: estypes.SearchResponse<{ sku: string; name: string }>;
  try {
    res = await client.search<{ sku: string; name: string }>({
      index: alias,
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
