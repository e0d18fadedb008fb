import { createTestDeps, startTestApp, type TestDeps } from '../helpers/app';

/** Every route of the storefront and support contract (shared/API.md), as OpenAPI paths. */
const CONTRACT: [method: string, path: string][] = [
  ['get', '/health'],
  ['get', '/products'],
  ['get', '/products/suggest'],
  ['get', '/products/{sku}'],
  ['post', '/carts'],
  ['get', '/carts/{cartId}'],
  ['put', '/carts/{cartId}/lines/{sku}'],
  ['delete', '/carts/{cartId}/lines/{sku}'],
  ['post', '/checkouts'],
  ['get', '/checkouts/{checkoutId}'],
  ['get', '/orders/{orderId}'],
  ['get', '/orders'],
  ['post', '/orders/{orderId}/refunds'],
  ['get', '/orders/{orderId}/refunds'],
  ['post', '/admin/orders/{orderId}/retry'],
  ['post', '/admin/orders/{orderId}/cancel'],
  ['put', '/admin/products/{sku}'],
  ['delete', '/admin/products/{sku}'],
  ['put', '/admin/inventory/{sku}'],
];

type Operation = { security?: unknown[]; parameters?: { name: string; in: string }[]; responses: Record<string, unknown> };

describe('GET /openapi.json', () => {
  let deps: TestDeps;
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
  beforeAll(async () => {
    deps = await createTestDeps();
    const app = await startTestApp(deps);
    try {
      const res = await fetch(`${app.baseUrl}/openapi.json`);
      expect(res.status).toBe(200);
      doc = (await res.json()) as typeof doc;
    } finally {
      await app.close();
    }
  });
  afterAll(async () => {
    await deps?.close();
  });

  it('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0');
  });

  it.each(CONTRACT)('describes %s %s with its responses', (method, path) => {
    const op = doc.paths[path]?.[method];
    expect(op).toBeDefined();
    expect(Object.keys(op?.responses ?? {}).length).toBeGreaterThan(0);
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const name of params) expect(op?.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name, in: 'path' })]));
  });

  it('puts every admin and support route behind the bearer token, and says which answer 401 and 403', () => {
    const guarded = CONTRACT.filter(([m, p]) => p.startsWith('/admin/') || (m === 'get' && p === '/orders'));
    for (const [method, path] of guarded) {
      const op = doc.paths[path]?.[method];
      expect(op?.security).toEqual([{ adminToken: [] }]);
      expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(['401', '403']));
    }
  });

  it('describes the Product, Cart and error shapes of the contract', () => {
    const { schemas } = doc.components;
    expect(Object.keys(schemas.Product?.properties ?? {})).toEqual(expect.arrayContaining(['sku', 'name', 'description', 'category', 'price', 'available']));
    expect(Object.keys(schemas.Cart?.properties ?? {})).toEqual(expect.arrayContaining(['id', 'currency', 'email', 'lines', 'total', 'updatedAt']));
    expect(Object.keys(schemas.CartLine?.properties ?? {})).toEqual(['sku', 'name', 'quantity', 'unitPrice', 'lineTotal']);
    expect(Object.keys(schemas.Error?.properties ?? {})).toEqual(['error']);
  });
});
