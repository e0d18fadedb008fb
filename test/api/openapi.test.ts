import { createApp } from '../../api/app';
import { createTestDeps, startTestApp, type TestDeps } from '../helpers/app';

/**
 * Every route of the storefront and support contract (shared/API.md), as OpenAPI paths.
 */
const CONTRACT: [method: string, path: string][] = [
  ['get', '/health'],
  ['get', '/products'],
  ['get', '/products/suggest'],
  ['get', '/products/{sku}'],
  ['get', '/products/{sku}/recommendations'],
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
  // support identities (issue 15)
  ['get', '/admin/inventory/{sku}/changes'],
  ['post', '/admin/support-tokens'],
  ['get', '/admin/support-tokens'],
  ['delete', '/admin/support-tokens/{id}'],
  // customer accounts (issue 15)
  ['post', '/customers'],
  ['post', '/auth/login'],
  ['post', '/auth/refresh'],
  ['post', '/auth/logout'],
  ['post', '/me/password'],
  ['get', '/me/orders'],
  ['get', '/me/carts'],
];

/** Temporal's codec server for the Web UI and the CLI (api/routes/codec.ts). */
const CODEC_ROUTES = ['post /codec/encode', 'post /codec/decode', 'post /codec/email-hash', 'get /codec/session', 'post /codec/session', 'delete /codec/session'];

type Layer = { rawPath?: string; route?: { path: string; methods: Record<string, boolean> }; handle: { stack?: Layer[] } };

/** What the Express app serves, read from its router: [method, OpenAPI path]. */
function servedRoutes(layers: Layer[], prefix = ''): string[] {
  return layers.flatMap((layer) => {
    const at = (p: string) => (prefix + (p === '/' ? '' : p)).replace(/:(\w+)/g, '{$1}') || '/';
    if (layer.route) return Object.keys(layer.route.methods).map((m) => `${m} ${at(layer.route!.path)}`);
    if (layer.handle.stack) return servedRoutes(layer.handle.stack, typeof layer.rawPath === 'string' ? at(layer.rawPath) : prefix);
    return [];
  });
}

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

  it('documents every route the Express app serves, and serves every documented one', () => {
    const app = createApp(deps) as unknown as { router: { stack: Layer[] } };
    const served = servedRoutes(app.router.stack).filter((r) => r !== 'get /openapi.json');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect([...new Set(served)].sort()).toEqual(documented.sort());
    expect(documented.sort()).toEqual(CONTRACT.map(([m, p]) => `${m} ${p}`).concat(['get /unsubscribe', 'get /unsubscribe/{token}', 'post /unsubscribe/{token}', 'post /webhooks/stripe', 'post /checkouts/{checkoutId}/confirm', 'post /local-gateway/authenticate']).concat(CODEC_ROUTES).sort());
  });

  it('answers a method a documented path does not declare with 405 and Allow', async () => {
    const app = await startTestApp(deps);
    try {
      const res = await fetch(`${app.baseUrl}/carts/cart_aaaaaaaaaaaaaaaaaaaaaa`, { method: 'PATCH' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
      expect((await fetch(`${app.baseUrl}/nowhere`, { method: 'PATCH' })).status).toBe(404);
    } finally {
      await app.close();
    }
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
