import { randomBytes } from 'node:crypto';
import { createTestDatabase } from '../helpers/database';
import { eventually } from '../helpers/eventually';
import { startStack, uniqueSku, type Stack } from '../helpers/stack';

/**
 * The search API against the real Elasticsearch node: products written through the admin
 * API reach the index through the sync workflow (a worker of the suite's own), then are
 * searched, filtered, faceted, sorted, paged and suggested.
 */
describe('catalog management and search (Elasticsearch)', () => {
  let stack: Stack;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  const tag = () => randomBytes(4).toString('hex');

  beforeAll(async () => {
    db = await createTestDatabase('search');
    stack = await startStack({ worker: true, env: { DATABASE_URL: db.url, SEARCH_STOCK_SYNC_MS: '300' } });
  });
  afterAll(async () => {
    await stack?.close();
    await db?.drop();
  });

  type Body = { name: string; description?: string; category?: string | null; attributes?: Record<string, unknown>; price: { amount: number; currency: string }; active?: boolean };
  const put = (sku: string, body: Body | Record<string, unknown>) => stack.http('PUT', `/admin/products/${sku}`, { body, headers: admin });
  const skusOf = (res: { body: { items: { sku: string }[] } }) => res.body.items.map((p) => p.sku);

  /** Waits until a search finds exactly `expected` (in order when `ordered`). */
  async function searchUntil(qs: string, expected: string[], ordered = false) {
    return eventually(
      async () => {
        const res = await stack.http('GET', `/products?${qs}`);
        if (res.status !== 200 || res.headers.get('x-search-engine') !== 'elasticsearch') return undefined;
        const got = skusOf(res);
        const same = ordered ? JSON.stringify(got) === JSON.stringify(expected) : JSON.stringify([...got].sort()) === JSON.stringify([...expected].sort());
        return same ? res : undefined;
      },
      10_000,
      `search ${qs} → ${expected.join(',')}`,
    );
  }

  /** Five products in a category of their own: prices 500…8000, one out of stock. */
  async function catalogOfFive() {
    const category = `cat-${tag()}`;
    const other = `cat-${tag()}`;
    const word = `w${tag()}`;
    const prices = [500, 1500, 3000, 6000, 12000];
    const skus: string[] = [];
    for (const [i, amount] of prices.entries()) {
      const sku = uniqueSku('S');
      skus.push(sku);
      const res = await put(sku, { name: `${word} item ${i}`, description: `number ${i}`, category: i < 4 ? category : other, price: { amount, currency: 'USD' }, attributes: { batch: word } });
      expect(res.status).toBe(200);
      const stockRes = await stack.http('PUT', `/admin/inventory/${sku}`, { body: { onHand: i === 1 ? 0 : 5 }, headers: admin });
      expect(stockRes.status).toBe(200);
    }
    await searchUntil(`q=${word}`, skus);
    return { category, other, word, skus };
  }

  it('a product created through the API is found by full text within seconds; an update replaces it', async () => {
    const sku = uniqueSku('S');
    const word = `kumquat${tag()}`;
    const created = await put(sku, { name: `Candied ${word}`, description: 'sweet', category: 'pantry', price: { amount: 899, currency: 'USD' }, attributes: { origin: 'Sicily' } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ sku, name: `Candied ${word}`, category: 'pantry', price: { amount: 899, currency: 'USD' }, available: 0, active: true, version: 1 });

    const found = await searchUntil(`q=${word}`, [sku]);
    expect(found.body.items[0]).toMatchObject({ sku, name: `Candied ${word}`, price: { amount: 899, currency: 'USD' }, attributes: { origin: 'Sicily' } });
    // attributes are searchable too
    await searchUntil(`q=sicily+${word}`, [sku]);

    const renamed = `Pickled ${tag()}zz`;
    const updated = await put(sku, { name: renamed, description: 'sour', category: 'pantry', price: { amount: 999, currency: 'USD' } });
    expect(updated.body).toMatchObject({ version: 2, price: { amount: 999, currency: 'USD' } });
    await searchUntil(`q=${encodeURIComponent(renamed)}`, [sku]);
    await searchUntil(`q=${word}`, []);
    // the same body again changes nothing, not even the version
    expect((await put(sku, { name: renamed, description: 'sour', category: 'pantry', price: { amount: 999, currency: 'USD' } })).body.version).toBe(2);
  });

  it.each([
    ['no name', { price: { amount: 100, currency: 'USD' } }],
    ['a blank name', { name: '  ', price: { amount: 100, currency: 'USD' } }],
    ['a float price', { name: 'x', price: { amount: 1.5, currency: 'USD' } }],
    ['a negative price', { name: 'x', price: { amount: -1, currency: 'USD' } }],
    ['a price as a string', { name: 'x', price: { amount: '100', currency: 'USD' } }],
    ['an unknown currency', { name: 'x', price: { amount: 100, currency: 'usd' } }],
    ['an unknown field', { name: 'x', price: { amount: 100, currency: 'USD' }, stock: 5 }],
    ['a nested attribute', { name: 'x', price: { amount: 100, currency: 'USD' }, attributes: { a: { b: 1 } } }],
    ['a control character', { name: 'x\u0000y', price: { amount: 100, currency: 'USD' } }],
    ['active as a string', { name: 'x', price: { amount: 100, currency: 'USD' }, active: 'yes' }],
  ])('PUT /admin/products with %s is a 400 and writes nothing', async (_name, body) => {
    const sku = uniqueSku('BAD');
    const res = await put(sku, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect((await stack.http('GET', `/products/${sku}`)).status).toBe(404);
  });

  it('catalog writes need the admin credential', async () => {
    const sku = uniqueSku('S');
    const body = { name: 'x', price: { amount: 100, currency: 'USD' } };
    expect((await stack.http('PUT', `/admin/products/${sku}`, { body })).status).toBe(401);
    expect((await stack.http('PUT', `/admin/products/${sku}`, { body, headers: { Authorization: 'Bearer wrong' } })).status).toBe(403);
    expect((await stack.http('DELETE', `/admin/products/${sku}`)).status).toBe(401);
    expect((await stack.http('GET', `/products/${sku}`)).status).toBe(404);
  });

  it('DELETE deactivates: gone from search, suggest and the product page; unknown sku is a 404', async () => {
    const word = `okapi${tag()}`;
    const sku = uniqueSku('S');
    await put(sku, { name: `${word} lamp`, price: { amount: 100, currency: 'USD' } });
    await searchUntil(`q=${word}`, [sku]);
    const gone = await stack.http('DELETE', `/admin/products/${sku}`, { headers: admin });
    expect(gone.status).toBe(200);
    expect(gone.body).toMatchObject({ sku, active: false, version: 2 });
    await searchUntil(`q=${word}`, []);
    expect((await stack.http('GET', `/products/suggest?q=${word}`)).body.items).toEqual([]);
    expect((await stack.http('GET', `/products/${sku}`)).status).toBe(404);
    expect((await stack.http('DELETE', `/admin/products/${sku}`, { headers: admin })).body.version).toBe(2);
    expect((await stack.http('DELETE', `/admin/products/${uniqueSku('NONE')}`, { headers: admin })).status).toBe(404);
  });

  it('filters by category, price range and stock, with facets counted without their own filter', async () => {
    const { category, other, word, skus } = await catalogOfFive();
    const all = await searchUntil(`q=${word}`, skus);
    expect(all.body.facets.category).toEqual(
      [
        { value: category, count: 4 },
        { value: other, count: 1 },
      ].sort((a, b) => a.value.localeCompare(b.value)),
    );
    expect(all.body.facets.price).toEqual([
      { to: 1000, count: 1 },
      { from: 1000, to: 2500, count: 1 },
      { from: 2500, to: 5000, count: 1 },
      { from: 5000, to: 10000, count: 1 },
      { from: 10000, count: 1 },
    ]);

    const inCategory = await stack.http('GET', `/products?q=${word}&category=${category}`);
    expect(skusOf(inCategory).sort()).toEqual(skus.slice(0, 4).sort());
    // the category facet still shows the other category; the price facet follows the category
    expect(inCategory.body.facets.category.map((c: { value: string }) => c.value).sort()).toEqual([category, other].sort());
    expect(inCategory.body.facets.price.find((b: { from?: number }) => b.from === 10000).count).toBe(0);

    const range = await stack.http('GET', `/products?q=${word}&minPrice=1000&maxPrice=6000&sort=price_asc`);
    expect(skusOf(range)).toEqual(skus.slice(1, 4));

    // stock reaches the index through the stock sync: sku 1 has none
    await searchUntil(`q=${word}&inStock=true`, [skus[0], skus[2], skus[3], skus[4]] as string[]);
    const restock = await stack.http('PUT', `/admin/inventory/${skus[1]}`, { body: { onHand: 3 }, headers: admin });
    expect(restock.status).toBe(200);
    const after = await searchUntil(`q=${word}&inStock=true`, skus);
    expect(after.body.items.find((p: { sku: string }) => p.sku === skus[1]).available).toBe(3);
  });

  it('facets come from a request-cached request of their own: the same on every page, and they follow the index', async () => {
    const { category, word, skus } = await catalogOfFive();
    const cacheHits = async () => {
      const stats = await stack.search.client.indices.stats({ index: stack.search.alias, metric: 'request_cache' });
      return stats._all.primaries?.request_cache?.hit_count ?? 0;
    };
    const first = await stack.http('GET', `/products?q=${word}&sort=price_asc&limit=2`);
    expect(first.status).toBe(200);
    const hitsBefore = await cacheHits();
    // the next page asks the same facets: answered from the shard request cache, same counts
    const second = await stack.http('GET', `/products?q=${word}&sort=price_asc&limit=2&cursor=${first.body.nextCursor}`);
    expect(skusOf(second)).toEqual(skus.slice(2, 4));
    expect(second.body.facets).toEqual(first.body.facets);
    expect(await cacheHits()).toBeGreaterThan(hitsBefore);
    expect(first.body.facets.category.find((c: { value: string }) => c.value === category).count).toBe(4);

    // a product added to the category: once it is searchable, the cached facets are gone with the refresh that added it
    const sku = uniqueSku('S');
    expect((await put(sku, { name: `${word} newcomer`, category, price: { amount: 700, currency: 'USD' } })).status).toBe(200);
    const after = await searchUntil(`q=${word}`, [...skus, sku]);
    expect(after.body.facets.category.find((c: { value: string }) => c.value === category).count).toBe(5);
    expect(after.body.facets.price.find((b: { to?: number }) => b.to === 1000).count).toBe(2);

    // where the handler's time went, for the bench and any client
    expect(after.headers.get('server-timing')).toMatch(/^es;dur=[\d.]+, engine;dur=[\d.]+, stock;dur=[\d.]+, app;dur=[\d.]+$/);
  });

  it('sorts by price, newest and name, ranks by relevance, and pages with a cursor', async () => {
    const { word, skus } = await catalogOfFive();
    expect(skusOf(await stack.http('GET', `/products?q=${word}&sort=price_asc`))).toEqual(skus);
    expect(skusOf(await stack.http('GET', `/products?q=${word}&sort=price_desc`))).toEqual([...skus].reverse());
    expect(skusOf(await stack.http('GET', `/products?q=${word}&sort=newest`))).toEqual([...skus].reverse());
    expect(skusOf(await stack.http('GET', `/products?q=${word}&sort=name`))).toEqual(skus);

    // relevance: the word in the name outranks the word only in the description
    const rel = `r${tag()}`;
    const inName = uniqueSku('S');
    const inDescription = uniqueSku('S');
    await put(inDescription, { name: 'Plain thing', description: `mentions ${rel} once, among many other words of a long description`, price: { amount: 100, currency: 'USD' } });
    await put(inName, { name: `${rel} deluxe`, price: { amount: 100, currency: 'USD' } });
    await searchUntil(`q=${rel}`, [inName, inDescription], true);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await stack.http('GET', `/products?q=${word}&sort=price_desc&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...skusOf(res));
      cursor = res.body.nextCursor;
    } while (cursor && seen.length < 10);
    expect(seen).toEqual([...skus].reverse());

    const first = await stack.http('GET', `/products?q=${word}&sort=relevance&limit=2`);
    const page2 = await stack.http('GET', `/products?q=${word}&sort=relevance&limit=2&cursor=${first.body.nextCursor}`);
    expect(skusOf(page2)).toHaveLength(2);
    expect(skusOf(page2).some((s: string) => skusOf(first).includes(s))).toBe(false);
    // a cursor only works with the sort it came from
    const mixed = await stack.http('GET', `/products?q=${word}&sort=price_asc&cursor=${first.body.nextCursor}`);
    expect(mixed.status).toBe(400);
    expect(mixed.body.error.details[0].field).toBe('cursor');
  });

  it('suggests by the prefix of any word of the name, and only active products', async () => {
    const word = `Xylo${tag()}`;
    const sku = uniqueSku('S');
    await put(sku, { name: `Walnut ${word} stand`, price: { amount: 100, currency: 'USD' } });
    const first = await eventually(async () => {
      const res = await stack.http('GET', `/products/suggest?q=${word.slice(0, 8).toLowerCase()}`);
      return res.body.items.length > 0 ? res : undefined;
    }, 10_000);
    expect(first.body.items).toEqual([{ sku, name: `Walnut ${word} stand` }]);
    expect(first.headers.get('x-search-engine')).toBe('elasticsearch');
    expect((await stack.http('GET', `/products/suggest?q=walnut%20${word.slice(0, 6)}`)).body.items).toEqual([{ sku, name: `Walnut ${word} stand` }]);
  });

  it.each([['q=%00'], ['q=' + 'a'.repeat(201)], ['sort=cheapest'], ['cursor=' + Buffer.from('{"e":"es","o":"relevance","a":[{"x":1}]}').toString('base64url')], ['minPrice=1.5']])(
    'a malformed query (%s) is a 400, never a 500',
    async (qs) => {
      const res = await stack.http('GET', `/products?${qs}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    },
  );

  it.each([['('], ['"'], ['*:*'], ['a AND OR'], ['\\'], ['[1 TO 2]'], ['title:{x}'], ['~~~'], ['🙂']])('query syntax is plain text, not an error (q=%s)', async (q) => {
    const res = await stack.http('GET', `/products?q=${encodeURIComponent(q)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-search-engine')).toBe('elasticsearch');
  });

  it('catalog reads carry ETag and Cache-Control, and a matching If-None-Match gets a 304', async () => {
    const { word, skus } = await catalogOfFive();
    for (const path of [`/products?q=${word}`, `/products/suggest?q=${word}`, `/products/${skus[0]}`]) {
      const res = await stack.http('GET', path);
      const etag = res.headers.get('etag');
      expect(etag).toBeTruthy();
      expect(res.headers.get('cache-control')).toMatch(/public, max-age=\d+/);
      // (fetch adds `Cache-Control: no-cache` to a conditional request unless one is given;
      // a browser revalidating sends max-age=0, a CDN nothing)
      const again = await fetch(stack.baseUrl + path, { headers: { 'If-None-Match': etag as string, 'Cache-Control': 'max-age=0' } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
      const stale = await fetch(stack.baseUrl + path, { headers: { 'If-None-Match': 'W/"something-else"', 'Cache-Control': 'max-age=0' } });
      expect(stale.status).toBe(200);
    }
  });

  it('GET /health reports the search engine', async () => {
    const res = await stack.http('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: 'ok',
      checks: { postgres: 'ok', redis: 'ok', temporal: 'ok', search: 'ok' },
      // closed; a slow search on a loaded machine may have counted a failure or two below the threshold
      breakers: Object.fromEntries(['payment_gateway', 'smtp', 'search'].map((name) => [name, expect.objectContaining({ state: 'closed', retryAfterMs: 0, opens: 0 })])),
    });
  });
});
