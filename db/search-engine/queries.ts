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

/**
 * A storefront search as two requests sent together: the page of hits, and the facets.
 *
 * - `hits`: the query, the facet filters as a post_filter, sort and search_after, `size` limit
 *   + 1, only the fields a Product shows (`_source` filtering), no aggregations and no exact
 *   total (`track_total_hits: false`), so the engine stops once it has the page: top-k for
 *   relevance (block-max WAND), the sort field's index for the other sorts.
 * - `facets`: `size: 0` with the aggregations and the exact total (the API shows no total, but
 *   it is free once the aggregations visit every match) and `request_cache: true`: the shard
 *   request cache keeps the answer until the next refresh that changed the index, so a facet
 *   request repeated within a refresh interval (every browse page, a category's pages, a popular
 *   word) costs a cache lookup instead of a pass over every match. A miss costs what the single
 *   request did (its aggregations visited every match anyway); the hits request is the cheap one.
 *
 * The two may see neighbouring refreshes of the index (a change landing between them shows in
 * one and not yet in the other): facet counts are as fresh as the index, never more exact.
 */
export function searchRequests(alias: string, query: SearchQuery): { hits: estypes.SearchRequest; facets: estypes.SearchRequest } {
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
  const search: estypes.QueryDslQueryContainer = { bool: { must, filter } };
  const postFilter: estypes.QueryDslQueryContainer = { bool: { filter: [...categoryFilter, ...priceFilter] } };

  return {
    hits: {
      index: alias,
      size: query.limit + 1,
      query: search,
      post_filter: postFilter,
      sort: sortClause(query.sort, query.q),
      track_total_hits: false,
      _source: ['sku', 'name', 'description', 'category', 'attributes', 'price', 'currency'],
      ...(query.after ? { search_after: query.after } : {}),
    },
    // Facets count what the other facet's filter leaves, so choosing a category still shows
    // the other categories' counts (and the same for price). The body depends on the query and
    // the filters only, never on the sort or the page: every page of a search shares one cache entry.
    facets: {
      index: alias,
      size: 0,
      request_cache: true,
      query: search,
      post_filter: postFilter,
      track_total_hits: true,
      aggs: {
        category: { filter: { bool: { filter: priceFilter } }, aggs: { values: { terms: { field: 'category', size: 50, order: { _key: 'asc' } } } } },
        price: { filter: { bool: { filter: categoryFilter } }, aggs: { ranges: { range: { field: 'price', ranges: PRICE_FACET_BUCKETS } } } },
      },
    },
  };
}

type FacetAggregations = {
  category: { values: { buckets: { key: string; doc_count: number }[] } };
  price: { ranges: { buckets: { from?: number; to?: number; doc_count: number }[] } };
};

/** Full text, filters, facets, sort and search_after paging: the hits and the facets requests, together. */
export async function searchDocuments({ client, alias }: SearchEngine, query: SearchQuery): Promise<SearchPage> {
  const requests = searchRequests(alias, query);
  let hitsRes: estypes.SearchResponse<SearchHit>;
  let facetsRes: estypes.SearchResponse<never, FacetAggregations>;
  try {
    [hitsRes, facetsRes] = await Promise.all([client.search<SearchHit>(requests.hits), client.search<never, FacetAggregations>(requests.facets)]);
  } catch (err) {
    throw new SearchUnavailableError(err instanceof Error ? err.message : String(err));
  }
  const hits = hitsRes.hits.hits;
  const page = hits.slice(0, query.limit);
  const more = hits.length > query.limit;
  const aggs = facetsRes.aggregations;
  const total = typeof facetsRes.hits.total === 'number' ? facetsRes.hits.total : (facetsRes.hits.total?.value ?? 0);
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
