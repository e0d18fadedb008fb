import { searchRequests } from '../../db/search-engine/queries';

/** The two requests of a storefront search (db/search-engine/queries.ts), as sent to Elasticsearch. */
describe('searchRequests', () => {
  const base = { q: 'lamp', category: 'lighting', minPrice: 1000, sort: 'relevance' as const, limit: 20 };

  it('asks for the page without aggregations or an exact total, and for the facets with size 0 through the request cache', () => {
    const { hits, facets } = searchRequests('products', base);
    expect(hits).toMatchObject({ index: 'products', size: 21, track_total_hits: false });
    expect(hits.aggs).toBeUndefined();
    expect(facets).toMatchObject({ index: 'products', size: 0, request_cache: true, track_total_hits: true });
    expect(Object.keys(facets.aggs ?? {}).sort()).toEqual(['category', 'price']);
    // the same query and facet filters in both
    expect(facets.query).toEqual(hits.query);
    expect(facets.post_filter).toEqual(hits.post_filter);
  });

  it('gives every sort and page of one search the same facets request (one cache entry)', () => {
    const first = searchRequests('products', base);
    const later = searchRequests('products', { ...base, sort: 'price_desc', limit: 5, after: [1500, 'SKU-9'] });
    expect(later.hits.search_after).toEqual([1500, 'SKU-9']);
    expect(JSON.stringify(later.facets)).toBe(JSON.stringify(first.facets));
  });
});
