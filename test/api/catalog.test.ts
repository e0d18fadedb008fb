import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { upsertProduct } from '../../db/stores/catalog';
import { holdStock } from '../../db/stores/holds';
import { closedPort, createTestDeps, startTestApp } from '../helpers/app';
import { createProduct, startStack, uniqueSku, type Stack } from '../helpers/stack';

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * The PostgreSQL side of the catalog: this suite's Elasticsearch URL points at a closed port,
 * so every search takes the degraded path (full text in PostgreSQL); test/search covers the
 * Elasticsearch side.
 */
describe('catalog, inventory and health', () => {
  let stack: Stack;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  beforeAll(async () => {
    stack = await startStack({ env: { ELASTICSEARCH_URL: `http://127.0.0.1:${await closedPort()}` } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('GET /products/:sku shows price and available = on hand - reserved', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 4321, onHand: 7 });
    await holdStock(stack.dbs.inventory, `hold-${sku}`, [{ sku, quantity: 3 }], 60);
    const res = await stack.http('GET', `/products/${sku}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sku, price: { amount: 4321, currency: 'USD' }, available: 4 });
    expect((await stack.http('GET', '/products/NOPE-404')).status).toBe(404);
  });

  it('filters by category, price and stock, searches text, and pages with a cursor', async () => {
    const category = `cat-${randomBytes(4).toString('hex')}`;
    const word = `zephyr${randomBytes(3).toString('hex')}`;
    const skus = [];
    for (let i = 0; i < 5; i++) {
      skus.push(await createProduct(stack.dbs, { category, priceAmount: 100 * (i + 1), onHand: i === 0 ? 0 : 5, description: i < 2 ? `the ${word} kettle` : 'plain' }));
    }
    const byPrice = await stack.http('GET', `/products?category=${category}&sort=price_asc&limit=2`);
    expect(byPrice.body.items.map((p: { sku: string }) => p.sku)).toEqual(skus.slice(0, 2));
    const page2 = await stack.http('GET', `/products?category=${category}&sort=price_asc&limit=2&cursor=${byPrice.body.nextCursor}`);
    expect(page2.body.items.map((p: { sku: string }) => p.sku)).toEqual(skus.slice(2, 4));
    const page3 = await stack.http('GET', `/products?category=${category}&sort=price_asc&limit=2&cursor=${page2.body.nextCursor}`);
    expect(page3.body.items.map((p: { sku: string }) => p.sku)).toEqual(skus.slice(4));
    expect(page3.body.nextCursor).toBeNull();

    const range = await stack.http('GET', `/products?category=${category}&minPrice=200&maxPrice=300&sort=price_desc`);
    expect(range.body.items.map((p: { sku: string }) => p.sku)).toEqual([skus[2], skus[1]]);
    const inStock = await stack.http('GET', `/products?category=${category}&inStock=true&sort=price_asc`);
    expect(inStock.body.items.map((p: { sku: string }) => p.sku)).toEqual(skus.slice(1));
    const text = await stack.http('GET', `/products?q=${word}`);
    expect(text.headers.get('x-search-engine')).toBe('postgres');
    expect(text.headers.get('x-search-degraded')).toBe('true');
    expect(text.body.facets.category).toEqual([{ value: category, count: 2 }]);
    expect(text.body.items.map((p: { sku: string }) => p.sku).sort()).toEqual(skus.slice(0, 2).sort());
  });

  it.each([
    ['limit=abc'],
    ['limit=0'],
    ['limit=1000'],
    ['minPrice=-1'],
    ['minPrice=500&maxPrice=100'],
    ['sort=random'],
    ['cursor=not-a-cursor'],
    ['inStock=maybe'],
    ['unknown=1'],
    ['limit=0x10'],
    ['minPrice=1e3'],
    ['maxPrice=12.5'],
    ['q=a&q=b'],
    ['q=%00'],
    ['category=tea%00'],
  ])('a malformed query (%s) is a 400, never a 500', async (qs) => {
    const res = await stack.http('GET', `/products?${qs}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('pages by newest without skipping products created within the same millisecond', async () => {
    const category = `cat-${randomBytes(4).toString('hex')}`;
    const skus = Array.from({ length: 5 }, (_, i) => `NEW-${randomBytes(5).toString('hex')}-${i}`);
    // Microseconds apart, as rows inserted back to back are: a millisecond cursor would lose them.
    for (const [i, sku] of skus.entries()) {
      await stack.dbs.catalog.execute(sql`
        insert into catalog.products (sku, name, description, category, price_amount, currency, created_at)
        values (${sku}, ${`Newest ${sku}`}, '', ${category}, 100, 'USD', ${`2030-01-01T00:00:00.0001${i}0Z`}::timestamptz)`);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await stack.http('GET', `/products?category=${category}&sort=newest&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((p: { sku: string }) => p.sku));
      cursor = res.body.nextCursor;
    } while (cursor && seen.length < 10);
    expect(seen).toEqual([...skus].reverse());
  });

  it('treats empty query parameters as absent', async () => {
    const category = `cat-${randomBytes(4).toString('hex')}`;
    const sku = await createProduct(stack.dbs, { category });
    const res = await stack.http('GET', `/products?q=&minPrice=&maxPrice=&inStock=&sort=&limit=&cursor=&category=${category}`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((p: { sku: string }) => p.sku)).toEqual([sku]);
  });

  it.each([
    ['a key of the wrong type for the sort', 'sort=price_asc', { o: 'price_asc', k: 'abc', i: 'X-1' }],
    ['a cursor of another sort', 'sort=price_asc', { o: 'name', k: 'Mug', i: 'X-1' }],
    ['an impossible date', 'sort=newest', { o: 'newest', k: '2026-02-30T00:00:00.000000Z', i: 'X-1' }],
    ['a NUL byte', 'sort=name', { o: 'name', k: 'a\u0000b', i: 'X-1' }],
    ['an old-style cursor', 'sort=price_asc', { k: 'abc', s: 'X-1' }],
    ['a rank that is not a number', 'q=mug&sort=relevance', { o: 'relevance', k: 'high', i: 'X-1' }],
  ])('a forged cursor (%s) is a 400, never a 500', async (_name, qs, cursor) => {
    const res = await stack.http('GET', `/products?${qs}&cursor=${cursorOf(cursor)}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', details: [expect.objectContaining({ field: 'cursor' })] });
  });

  it('a suggest query with a NUL byte is a 400, never a 500', async () => {
    const res = await stack.http('GET', '/products/suggest?q=ab%00');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('suggests products by name prefix', async () => {
    const name = `Quokka${randomBytes(3).toString('hex')} mug`;
    const sku = await createProduct(stack.dbs, { name });
    const res = await stack.http('GET', `/products/suggest?q=${name.slice(0, 10)}`);
    expect(res.body.items).toEqual([{ sku, name }]);
  });

  describe('PUT /admin/inventory/:sku', () => {
    it('needs the admin credential: 401 without, 403 with a wrong one', async () => {
      const sku = await createProduct(stack.dbs);
      expect((await stack.http('PUT', `/admin/inventory/${sku}`, { body: { onHand: 5 } })).body.error.code).toBe('unauthorized');
      const wrong = await stack.http('PUT', `/admin/inventory/${sku}`, { body: { onHand: 5 }, headers: { Authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(403);
      expect(wrong.body.error.code).toBe('forbidden');
      const basic = await stack.http('PUT', `/admin/inventory/${sku}`, { body: { onHand: 5 }, headers: { Authorization: 'Basic ZGV2OmRldg==' } });
      expect(basic.status).toBe(401);
      const prefix = await stack.http('PUT', `/admin/inventory/${sku}`, { body: { onHand: 5 }, headers: { Authorization: 'Bearer dev-admin-toke' } });
      expect(prefix.status).toBe(403);
      expect((await stack.http('GET', `/products/${sku}`)).body.available).toBe(100);
    });

    it('gives a product its first stock row', async () => {
      const sku = uniqueSku();
      await upsertProduct(stack.dbs.catalog, { sku, name: 'no stock yet', priceAmount: 100, currency: 'USD' });
      expect((await stack.http('GET', `/products/${sku}`)).body.available).toBe(0);
      const res = await stack.http('PUT', `/admin/inventory/${sku}`, { body: { onHand: 12 }, headers: admin });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sku, onHand: 12, reserved: 0, available: 12 });
      expect((await stack.http('GET', `/products/${sku}`)).body.available).toBe(12);
    });

    it('sets on hand, and refuses to go below what is reserved with a 409 and the numbers', async () => {
      const sku = await createProduct(stack.dbs, { onHand: 10 });
      await holdStock(stack.dbs.inventory, `hold-${sku}`, [{ sku, quantity: 6 }], 60);
      const ok = await stack.http('PUT', `/admin/inventory/${sku}`, { body: { onHand: 8 }, headers: admin });
      expect(ok.body).toEqual({ sku, onHand: 8, reserved: 6, available: 2 });
      const below = await stack.http('PUT', `/admin/inventory/${sku}`, { body: { onHand: 5 }, headers: admin });
      expect(below.status).toBe(409);
      expect(below.body.error.details).toMatchObject({ sku, reserved: 6, onHand: 8 });
      expect((await stack.http('PUT', `/admin/inventory/${sku}`, { body: { onHand: -1 }, headers: admin })).status).toBe(400);
      expect((await stack.http('PUT', '/admin/inventory/NOPE-1', { body: { onHand: 1 }, headers: admin })).status).toBe(404);
    });
  });

  it('serves the OpenAPI document', async () => {
    const res = await stack.http('GET', '/openapi.json');
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/checkouts', '/carts/{cartId}/lines/{sku}', '/orders/{orderId}']));
  });

  it('GET /health answers 200 "degraded" when only the search engine is down (search answers from PostgreSQL)', async () => {
    const res = await stack.http('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'degraded', checks: { postgres: 'ok', redis: 'ok', temporal: 'ok', search: 'down' } });
  });

  it('GET /health answers 503 naming Redis when Redis is down', async () => {
    const deps = await createTestDeps({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    const app = await startTestApp(deps);
    try {
      const res = await fetch(`${app.baseUrl}/health`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        status: 'degraded',
        checks: { postgres: 'ok', redis: 'down', temporal: 'ok', search: 'ok' },
        // without Redis no process can tell a breaker's state
        breakers: { payment_gateway: { state: 'unknown' }, smtp: { state: 'unknown' }, search: { state: 'unknown' } },
      });
    } finally {
      await app.close();
      await deps.close();
    }
  });

  it('admin order search needs the credential and finds orders by email', async () => {
    expect((await stack.http('GET', '/orders?email=a@b.co')).status).toBe(401);
    const res = await stack.http('GET', '/orders?email=nobody-here@example.com', { headers: admin });
    expect(res.body).toEqual({ items: [] });
    expect((await stack.http('GET', '/orders', { headers: admin })).status).toBe(400);
  });
});
