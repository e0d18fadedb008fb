import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { carts } from '../../db/schema/cart';
import { dataNodes } from '../../db/redis';
import { cartKey } from '../../db/stores/cart';
import { upsertProduct } from '../../db/stores/catalog';
import { redisTargets, startRedisCluster } from '../helpers/redis-cluster';
import { startRedisServer } from '../helpers/redis-server';
import { createProduct, startStack, type Stack } from '../helpers/stack';

describe.each(redisTargets)('carts on %s', (_target, connect) => {
  let stack: Stack;
  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const redis = await connect();
    release = redis.release;
    stack = await startStack({ env: redis.env });
  });
  afterAll(async () => {
    await stack?.close();
    await release?.();
  });

  const newCart = async (body: unknown = {}) => {
    const res = await stack.http('POST', '/carts', { body });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const backup = async (id: string) => (await stack.dbs.cart.select().from(carts).where(eq(carts.id, id)))[0];

  it('prices lines from the catalog when the cart is read', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1250 });
    const id = await newCart();
    const put = await stack.http('PUT', `/carts/${id}/lines/${sku}`, { body: { quantity: 3 } });
    expect(put.status).toBe(200);
    expect(put.body.lines).toEqual([
      expect.objectContaining({ sku, quantity: 3, unitPrice: { amount: 1250, currency: 'USD' }, lineTotal: { amount: 3750, currency: 'USD' } }),
    ]);
    expect(put.body.total).toEqual({ amount: 3750, currency: 'USD' });
  });

  it('a price changed in the catalog shows in GET /carts/:id at once', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1000 });
    const id = await newCart();
    await stack.http('PUT', `/carts/${id}/lines/${sku}`, { body: { quantity: 2 } });
    await upsertProduct(stack.dbs.catalog, { sku, name: 'repriced', priceAmount: 1500, currency: 'USD' });
    const res = await stack.http('GET', `/carts/${id}`);
    expect(res.body.total).toEqual({ amount: 3000, currency: 'USD' });
    expect(res.body.lines[0]).toMatchObject({ name: 'repriced', unitPrice: { amount: 1500, currency: 'USD' } });
  });

  it('50 concurrent PUTs of different SKUs to one cart keep all 50 lines, in Redis and in the backup', async () => {
    const skus = await Promise.all(Array.from({ length: 50 }, () => createProduct(stack.dbs)));
    const id = await newCart();
    const results = await Promise.all(skus.map((sku, i) => stack.http('PUT', `/carts/${id}/lines/${sku}`, { body: { quantity: i + 1 } })));
    expect(results.map((r) => r.status)).toEqual(skus.map(() => 200));
    const cart = await stack.http('GET', `/carts/${id}`);
    expect(cart.body.lines).toHaveLength(50);
    const row = await backup(id);
    expect(row?.lines).toHaveLength(50);
    expect(row?.version).toBe(51);
  });

  it('removing a line with DELETE or quantity 0', async () => {
    const [a, b] = await Promise.all([createProduct(stack.dbs), createProduct(stack.dbs)]);
    const id = await newCart();
    await stack.http('PUT', `/carts/${id}/lines/${a}`, { body: { quantity: 1 } });
    await stack.http('PUT', `/carts/${id}/lines/${b}`, { body: { quantity: 1 } });
    expect((await stack.http('DELETE', `/carts/${id}/lines/${a}`)).body.lines.map((l: { sku: string }) => l.sku)).toEqual([b]);
    expect((await stack.http('PUT', `/carts/${id}/lines/${b}`, { body: { quantity: 0 } })).body.lines).toEqual([]);
  });

  it('removing a line the cart does not have writes nothing', async () => {
    const sku = await createProduct(stack.dbs);
    const id = await newCart();
    await stack.http('PUT', `/carts/${id}/lines/${sku}`, { body: { quantity: 1 } });
    const before = await stack.http('GET', `/carts/${id}`);
    const res = await stack.http('DELETE', `/carts/${id}/lines/NOT-IN-CART`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(before.body);
    expect((await backup(id))?.version).toBe(2);
  });

  describe('bad input answers its 4xx and writes nothing', () => {
    let sku: string;
    let id: string;
    let before: unknown;
    let versionBefore: number | undefined;
    beforeAll(async () => {
      sku = await createProduct(stack.dbs);
      id = await newCart({ email: 'shopper@example.com' });
      await stack.http('PUT', `/carts/${id}/lines/${sku}`, { body: { quantity: 2 } });
      before = (await stack.http('GET', `/carts/${id}`)).body;
      versionBefore = (await backup(id))?.version;
    });

    /** Rejected creates carry a customerId of their own, so the test can tell that no cart row appeared. */
    const marker = () => `bad-input-${randomBytes(6).toString('hex')}`;
    const line = () => `/carts/${id}/lines/${sku}`;
    type Request = { method: string; path: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; marker?: string };
    const create = (body: Record<string, unknown>): Request => {
      const m = marker();
      return { method: 'POST', path: '/carts', body: { ...body, customerId: m }, marker: m };
    };
    const cases: [string, number, string, () => Request][] = [
      ['malformed JSON', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), rawBody: '{"quantity":' })],
      ['negative quantity', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: { quantity: -1 } })],
      ['fractional quantity', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: { quantity: 1.5 } })],
      ['huge quantity', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: { quantity: 1e9 } })],
      ['quantity above the per-line maximum', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: { quantity: 101 } })],
      ['quantity as a string', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: { quantity: '3' } })],
      ['quantity as a boolean', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: { quantity: true } })],
      ['quantity null', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: { quantity: null } })],
      ['missing quantity', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: {} })],
      ['unknown field', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: { quantity: 1, price: 1 } })],
      ['body is an array', 400, 'invalid_request', () => ({ method: 'PUT', path: line(), body: [1] })],
      ['body is not JSON', 415, 'unsupported_media_type', () => ({ method: 'PUT', path: line(), rawBody: 'quantity=1', headers: { 'content-type': 'text/plain' } })],
      ['oversized body (over 64 kB)', 413, 'payload_too_large', () => ({ method: 'PUT', path: line(), rawBody: JSON.stringify({ quantity: 1, pad: 'x'.repeat(70_000) }) })],
      ['unknown sku', 404, 'not_found', () => ({ method: 'PUT', path: `/carts/${id}/lines/NOPE-${Date.now()}`, body: { quantity: 1 } })],
      ['malformed sku', 400, 'invalid_request', () => ({ method: 'PUT', path: `/carts/${id}/lines/${encodeURIComponent('a b;drop')}`, body: { quantity: 1 } })],
      ['unknown cart', 404, 'not_found', () => ({ method: 'PUT', path: `/carts/cart_AAAAAAAAAAAAAAAAAAAAAA/lines/${sku}`, body: { quantity: 1 } })],
      ['unknown cart on DELETE', 404, 'not_found', () => ({ method: 'DELETE', path: `/carts/cart_CCCCCCCCCCCCCCCCCCCCCC/lines/${sku}` })],
      ['malformed cart id', 400, 'invalid_request', () => ({ method: 'GET', path: '/carts/1' })],
      ['unknown cart on GET', 404, 'not_found', () => ({ method: 'GET', path: '/carts/cart_BBBBBBBBBBBBBBBBBBBBBB' })],
      ['create with a lower-case currency', 400, 'invalid_request', () => create({ currency: 'usd' })],
      ['create with a currency that is not ISO 4217', 400, 'invalid_request', () => create({ currency: 'ABC' })],
      ['create with a bad email', 400, 'invalid_request', () => create({ email: 'not-an-email' })],
      ['create with a number email', 400, 'invalid_request', () => create({ email: 42 })],
      ['create with a NUL byte in customerId', 400, 'invalid_request', () => {
        const m = marker();
        return { method: 'POST', path: '/carts', body: { customerId: `${m}\u0000` }, marker: m };
      }],
      ['create with an unknown field', 400, 'invalid_request', () => create({ lines: [{ sku: 'X', quantity: 1 }] })],
      ['create with malformed JSON', 400, 'invalid_request', () => {
        const m = marker();
        return { method: 'POST', path: '/carts', rawBody: `{"customerId":"${m}",`, marker: m };
      }],
      ['product priced in another currency', 400, 'invalid_request', () => ({ method: 'PUT', path: `/carts/${id}/lines/__EUR__`, body: { quantity: 1 } })],
    ];

    it('a wrongly typed field is named in the error details', async () => {
      const res = await stack.http('PUT', line(), { body: { quantity: '3' } });
      expect(res.body.error).toMatchObject({ code: 'invalid_request', details: [expect.objectContaining({ field: 'quantity' })] });
      const created = await stack.http('POST', '/carts', { body: { email: 42, currency: 'usd' } });
      expect(created.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['currency', 'email']);
    });

    it.each(cases)('%s → %i %s', async (_name, status, code, make) => {
      const req = make();
      if (req.path.includes('__EUR__')) req.path = req.path.replace('__EUR__', await createProduct(stack.dbs, { currency: 'EUR' }));
      const res = await stack.http(req.method, req.path, req);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect((await stack.http('GET', `/carts/${id}`)).body).toEqual(before);
      expect((await backup(id))?.version).toBe(versionBefore);
      if (req.marker) expect(await stack.dbs.cart.select().from(carts).where(eq(carts.customerId, req.marker))).toEqual([]);
    });
  });
});

describe('a cart survives Redis losing its data', () => {
  it('after FLUSHALL and a restart, the same cart has the same lines', async () => {
    const redisServer = await startRedisServer();
    const stack = await startStack({ env: { REDIS_URL: redisServer.url } });
    try {
      const [a, b] = await Promise.all([createProduct(stack.dbs), createProduct(stack.dbs)]);
      const created = await stack.http('POST', '/carts', { body: { email: 'keep@example.com' } });
      const id = created.body.id as string;
      await stack.http('PUT', `/carts/${id}/lines/${a}`, { body: { quantity: 2 } });
      await stack.http('PUT', `/carts/${id}/lines/${b}`, { body: { quantity: 5 } });
      const before = (await stack.http('GET', `/carts/${id}`)).body;

      await stack.redis.flushall();
      await redisServer.restart();
      expect(await stack.redis.exists(cartKey(id))).toBe(0);

      const after = await stack.http('GET', `/carts/${id}`);
      expect(after.status).toBe(200);
      expect(after.body).toEqual(before);
      // and it is writable again, continuing from the restored version
      const more = await stack.http('PUT', `/carts/${id}/lines/${a}`, { body: { quantity: 3 } });
      expect(more.body.lines.find((l: { sku: string }) => l.sku === a).quantity).toBe(3);
      expect(more.body.lines).toHaveLength(2);
    } finally {
      await stack.close();
      await redisServer.stop();
    }
  });
});

describe('a cart survives a Redis Cluster losing its data', () => {
  it('after FLUSHALL on every master, the same cart has the same lines', async () => {
    // A cluster of its own: the suite's shared one must not lose other files' carts.
    const cluster = await startRedisCluster();
    const stack = await startStack({ env: { REDIS_CLUSTER_NODES: cluster.nodes } });
    try {
      const [a, b] = await Promise.all([createProduct(stack.dbs), createProduct(stack.dbs)]);
      const id = (await stack.http('POST', '/carts', { body: { email: 'keep@example.com' } })).body.id as string;
      await stack.http('PUT', `/carts/${id}/lines/${a}`, { body: { quantity: 2 } });
      await stack.http('PUT', `/carts/${id}/lines/${b}`, { body: { quantity: 5 } });
      const before = (await stack.http('GET', `/carts/${id}`)).body;

      await Promise.all(dataNodes(stack.redis).map((node) => node.flushall()));
      expect(await stack.redis.exists(cartKey(id))).toBe(0);

      expect((await stack.http('GET', `/carts/${id}`)).body).toEqual(before);
      const more = await stack.http('PUT', `/carts/${id}/lines/${a}`, { body: { quantity: 3 } });
      expect(more.body.lines).toEqual(expect.arrayContaining([expect.objectContaining({ sku: a, quantity: 3 }), expect.objectContaining({ sku: b, quantity: 5 })]));
    } finally {
      await stack.close();
      await cluster.stop();
    }
  });
});
