import { gzipSync } from 'node:zlib';
import { Pool } from 'pg';
import { openApiDocument } from '../../api/openapi';
import { createTestDatabase } from '../helpers/database';
import { databaseFingerprint, redisFingerprint } from '../helpers/fingerprint';
import { rawRequest, type RawRequest, type RawResponse } from '../helpers/raw-http';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Malformed input anywhere (shared/API.md): bytes in the request target, header values,
 * content types and bodies, written raw on a socket so they reach the server as they are
 * (fetch refuses or re-encodes most of them). Every answer is a 4xx in the contract's error
 * shape, and a rejected request writes nothing: the suite has a database and a Redis
 * database of its own, fingerprinted around each request.
 */
const ADMIN: [string, string] = ['Authorization', 'Bearer dev-admin-token'];
const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];

/** Percent-encodings a path parameter must never get through with. */
const BAD_PATH_PARAMS = [
  '%00%ff', // the example: NUL, then a byte that is never UTF-8
  '%ff',
  '%E0%A4%A', // truncated escape
  '%E0%A4', // truncated UTF-8 sequence
  '%C0%AF', // overlong encoding of '/'
  '%ED%A0%80', // a UTF-16 surrogate encoded as UTF-8
  '%', // a lone percent sign
  '%g0',
  '%00', // decodes to a control character
  '%1b',
  '%7F',
  '%C2%85', // U+0085, a C1 control
];

type Operation = { requestBody?: unknown };
const operations = Object.entries(openApiDocument.paths as Record<string, Record<string, Operation>>).flatMap(([path, ops]) =>
  Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
);
const withParams = operations.filter((o) => o.path.includes('{'));
// POST /webhooks/stripe reads raw bytes of any type (the signature decides): test/api/webhooks.test.ts;
// POST /unsubscribe/{token} takes RFC 8058's form body and reads none of it: test/api/unsubscribe.test.ts;
// POST /codec/session is the Web UI sign-in form (application/x-www-form-urlencoded): test/api/payload-codec.test.ts
const FORM_BODIES = ['/webhooks/stripe', '/unsubscribe/{token}'];
const takingBodies = operations.filter((o) => o.method !== 'GET' && !FORM_BODIES.includes(o.path) && !(o.method === 'POST' && o.path === '/codec/session'));

describe('malformed input is a 4xx with a code, never a 5xx, and writes nothing', () => {
  let stack: Stack;
  let database: { url: string; drop(): Promise<void> };
  let pool: Pool;
  let sku: string;
  let cartId: string;
  const redisDb = 8;

  beforeAll(async () => {
    database = await createTestDatabase('malformed');
    stack = await startStack({ env: { DATABASE_URL: database.url, REDIS_URL: `${process.env.REDIS_URL}/${redisDb}`, CHECKOUT_WAIT_MS: '0' } });
    await stack.redis.flushdb();
    pool = new Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => undefined); // an idle client cut off by the database's drop is no failure
    sku = await createProduct(stack.dbs, { onHand: 5 });
    cartId = (await stack.http('POST', '/carts', { body: { email: 'malformed@example.com' } })).body.id;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
  });
  afterAll(async () => {
    await pool?.end();
    await stack?.close();
    await database?.drop();
  });

  const fingerprint = async () => `${await databaseFingerprint(pool)}/${await redisFingerprint(stack.redis)}`;
  const send = (req: RawRequest) => rawRequest(stack.baseUrl, req);

  /** Sends the request, checks it wrote nothing, and answers status, code and the fields named in details. */
  async function rejected(req: RawRequest): Promise<{ status: number; code: unknown; fields: unknown[]; res: RawResponse }> {
    const before = await fingerprint();
    const res = await send(req);
    expect(await fingerprint()).toBe(before);
    const details: unknown = res.body?.error?.details;
    const fields = Array.isArray(details) ? details.map((d: { field?: unknown }) => d.field) : [];
    return { status: res.status, code: res.body?.error?.code, fields, res };
  }

  /** Runs every case, then fails once with the list of the ones that answered otherwise. */
  async function expectAll(cases: { name: string; req: RawRequest; status: number; code: string; field?: string }[]) {
    const wrong: string[] = [];
    for (const c of cases) {
      const got = await rejected(c.req);
      const fieldOk = c.field === undefined || got.fields.includes(c.field);
      const shapeOk = typeof got.res.body?.error?.message === 'string';
      if (got.status !== c.status || got.code !== c.code || !fieldOk || !shapeOk) {
        wrong.push(`${c.name}: ${got.status} ${JSON.stringify(got.res.body)?.slice(0, 160)}`);
      }
    }
    expect(wrong).toEqual([]);
  }

  it('the OpenAPI document gives every operation the 400 for a malformed request, and the 415 where it takes a body', async () => {
    const doc = (await stack.http('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
      components: { responses?: Record<string, unknown>; schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } } };
    };
    const missing = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).flatMap(([method, op]) => [
        ...(op.responses['400'] ? [] : [`${method} ${path}: 400`]),
        ...(op.requestBody && !op.responses['415'] ? [`${method} ${path}: 415`] : []),
      ]),
    );
    expect(missing).toEqual([]);
    expect(Object.keys(doc.components.responses ?? {})).toEqual(expect.arrayContaining(['MalformedRequest', 'UnsupportedMediaType']));
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toEqual(expect.arrayContaining(['unsupported_media_type', 'headers_too_large']));
  });

  describe('the request target', () => {
    it('the examples of the issue are 400 invalid_request naming the path (were 500 internal_error)', async () => {
      await expectAll(
        ['/carts/%00%ff', '/orders/%ff', '/products/%E0%A4%A'].map((target) => ({
          name: target,
          req: { method: 'GET', target },
          status: 400,
          code: 'invalid_request',
          field: 'path',
        })),
      );
    });

    it.each(withParams.map((o) => [o.method, o.path] as const))('%s %s with a badly encoded path parameter is a 400 invalid_request', async (method, template) => {
      const names = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const cases = names.flatMap((bad) =>
        BAD_PATH_PARAMS.map((encoded) => {
          const target = template.replace(/\{(\w+)\}/g, (_m, name: string) => (name === bad ? encoded : name === 'sku' ? sku : name === 'cartId' ? cartId : 'x1'));
          const body = method === 'GET' || method === 'DELETE' ? {} : { headers: [JSON_TYPE], body: '{}' };
          return {
            name: `${method} ${target}`,
            req: { method, target, ...body, headers: [ADMIN, ['Idempotency-Key', 'k-malformed'] as [string, string], ...(body.headers ?? [])] },
            status: 400,
            code: 'invalid_request',
            field: 'path',
          };
        }),
      );
      await expectAll(cases);
    });

    it('routes without parameters and unknown routes answer the same 400, before authentication', async () => {
      const targets = ['/nowhere/%ff', '/products%E0%A4%A', '/%00', '/health/%C0%AF', '/admin/%ff', '/admin/inventory/%ff', '/openapi.json%'];
      await expectAll(targets.map((target) => ({ name: target, req: { method: 'GET', target }, status: 400, code: 'invalid_request', field: 'path' })));
    });

    it('a badly encoded or control-character query string is a 400 invalid_request naming the query', async () => {
      const targets = ['/products?q=%ff', '/products?q=%E0%A4%A', '/products/suggest?q=100%', '/unsubscribe?token=%ED%A0%80', '/products?x%ff=1', '/products?category=%1b'];
      await expectAll([
        ...targets.map((target) => ({ name: target, req: { method: 'GET', target }, status: 400, code: 'invalid_request', field: 'query' })),
        // PostgreSQL cannot store NUL: this one used to reach it and answer 500
        { name: 'NUL in a support search', req: { method: 'GET', target: '/orders?customerId=%00', headers: [ADMIN] }, status: 400, code: 'invalid_request', field: 'query' },
      ]);
    });

    it('raw bytes the HTTP parser refuses still get the contract error shape', async () => {
      const targets = [
        Buffer.concat([Buffer.from('/products/'), Buffer.from([0xff, 0xfe])]),
        Buffer.from('/carts/é', 'utf8'),
        Buffer.concat([Buffer.from('/orders/'), Buffer.from([0x01])]),
        Buffer.concat([Buffer.from('/products?q='), Buffer.from([0x7f])]),
      ];
      await expectAll(targets.map((target) => ({ name: JSON.stringify(target.toString('latin1')), req: { method: 'GET', target }, status: 400, code: 'invalid_request' })));
    });
  });

  describe('headers', () => {
    it('a weird Idempotency-Key is a 400 invalid_request naming the header, on both routes that need one', async () => {
      const keys: [string, string | Buffer][] = [
        ['non-ASCII (latin1)', Buffer.from([0x6b, 0xe9, 0x79])],
        ['non-ASCII (UTF-8)', Buffer.from('clé', 'utf8')],
        ['longer than 255', 'k'.repeat(256)],
        ['with a space', 'two words'],
        ['given twice', 'k1'],
      ];
      const routes = [
        { target: '/checkouts', body: JSON.stringify({ cartId, email: 'malformed@example.com', paymentToken: 'tok_visa' }) },
        { target: '/orders/ord_unknown/refunds', body: JSON.stringify({ reason: 'fuzz' }) },
      ];
      await expectAll(
        routes.flatMap(({ target, body }) =>
          keys.map(([name, key]) => ({
            name: `${target} ${name}`,
            req: {
              method: 'POST',
              target,
              headers: [ADMIN, JSON_TYPE, ['Idempotency-Key', key], ...(name === 'given twice' ? [['Idempotency-Key', 'k2'] as [string, string]] : [])],
              body,
            },
            status: 400,
            code: 'invalid_request',
            field: 'Idempotency-Key',
          })),
        ),
      );
    });

    it('header bytes the HTTP parser refuses (control characters, a bad name) get the contract error shape; an oversized header is a 431', async () => {
      await expectAll([
        { name: 'control character in Idempotency-Key', req: { method: 'POST', target: '/checkouts', headers: [JSON_TYPE, ['Idempotency-Key', 'a\x01b']], body: '{}' }, status: 400, code: 'invalid_request', field: 'headers' },
        { name: 'NUL in Authorization', req: { method: 'GET', target: '/orders?email=a@b.co', headers: [['Authorization', 'Bearer \x00']] }, status: 400, code: 'invalid_request', field: 'headers' },
        { name: 'space in a header name', req: { method: 'GET', target: '/health', headers: [['Bad Header', 'x']] }, status: 400, code: 'invalid_request', field: 'headers' },
        { name: '20 kB header', req: { method: 'GET', target: '/health', headers: [['X-Pad', 'p'.repeat(20_000)]] }, status: 431, code: 'headers_too_large' },
      ]);
    });
  });

  describe('bodies', () => {
    const plain = (target: string, method = 'POST', extra: [string, string][] = []): RawRequest => ({
      method,
      target,
      headers: [ADMIN, ['Idempotency-Key', 'k-plain'], ['Content-Type', 'text/plain'], ...extra],
      body: '{"quantity":1,"reason":"r","onHand":1,"name":"n","price":{"amount":1,"currency":"USD"}}',
    });

    it('a JSON body sent as text/plain to POST /carts is a 415 and creates no cart (was 201 with the email dropped)', async () => {
      const got = await rejected({ method: 'POST', target: '/carts', headers: [['Content-Type', 'text/plain']], body: JSON.stringify({ email: 'dropped@example.com' }) });
      expect(got.status).toBe(415);
      expect(got.code).toBe('unsupported_media_type');
    });

    it.each(takingBodies.map((o) => [o.method, o.path] as const))('%s %s with a non-empty non-JSON body is a 415 unsupported_media_type', async (method, template) => {
      const target = template.replace('{sku}', sku).replace('{cartId}', cartId).replace(/\{\w+\}/g, 'x1');
      await expectAll([
        { name: 'text/plain', req: plain(target, method), status: 415, code: 'unsupported_media_type' },
        { name: 'form', req: { ...plain(target, method), headers: [ADMIN, ['Content-Type', 'application/x-www-form-urlencoded']], body: 'quantity=1&reason=r' }, status: 415, code: 'unsupported_media_type' },
        { name: 'no content type', req: { method, target, headers: [ADMIN], body: '{"quantity":1}' }, status: 415, code: 'unsupported_media_type' },
        { name: 'chunked text/plain', req: { ...plain(target, method), chunked: true }, status: 415, code: 'unsupported_media_type' },
      ]);
    });

    it('content types that are not JSON, or JSON in another charset, are a 415', async () => {
      const types = ['multipart/form-data; boundary=x', 'text/json', 'application/jsonx', 'json', 'application/json; charset=latin1', 'application/json; charset=utf-16le', 'application/json; charset="', 'application/octet-stream', '\xff/\xfe'];
      await expectAll(
        types.map((type) => ({
          name: type,
          req: { method: 'PUT', target: `/carts/${cartId}/lines/${sku}`, headers: [['Content-Type', Buffer.from(type, 'latin1')]], body: '{"quantity":3}' },
          status: 415,
          code: 'unsupported_media_type',
        })),
      );
    });

    it('an empty body is fine with any content type (support retry takes none)', async () => {
      for (const req of [
        { method: 'POST', target: '/admin/orders/ord_unknown/retry', headers: [ADMIN, ['Content-Type', 'text/plain']], body: '' },
        { method: 'POST', target: '/admin/orders/ord_unknown/retry', headers: [ADMIN, ['Content-Type', 'application/x-www-form-urlencoded']], body: '', chunked: true },
        { method: 'POST', target: '/admin/orders/ord_unknown/retry', headers: [ADMIN] },
      ] satisfies RawRequest[]) {
        const got = await rejected(req);
        expect([got.status, got.code]).toEqual([404, 'not_found']);
      }
    });

    it('a +json media type and an explicit utf-8 charset are JSON', async () => {
      for (const type of ['application/vnd.orderly+json', 'application/merge-patch+json', 'application/json; charset=UTF-8']) {
        const res = await send({ method: 'POST', target: '/carts', headers: [['Content-Type', type]], body: JSON.stringify({ email: 'plus-json@example.com' }) });
        expect([type, res.status, res.body.email]).toEqual([type, 201, 'plus-json@example.com']);
      }
    });

    it('JSON bodies whose bytes are not UTF-8 are a 400 invalid_request (were decoded to U+FFFD and stored)', async () => {
      const product = (name: Buffer) => Buffer.concat([Buffer.from('{"name":"'), name, Buffer.from('","price":{"amount":100,"currency":"USD"}}')]);
      const bad: [string, Buffer][] = [
        ['latin1', Buffer.from('caf\xe9', 'latin1')],
        ['a lone continuation byte', Buffer.from([0x61, 0x80])],
        ['overlong', Buffer.from([0xc0, 0xaf])],
        ['a surrogate', Buffer.from([0xed, 0xa0, 0x80])],
        ['truncated', Buffer.from([0x61, 0xe0, 0xa4])],
        ['beyond U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
      ];
      await expectAll([
        ...bad.map(([name, bytes]) => ({
          name: `product name ${name}`,
          req: { method: 'PUT', target: `/admin/products/${sku}`, headers: [ADMIN, JSON_TYPE], body: product(bytes) },
          status: 400,
          code: 'invalid_request',
          field: '(body)',
        })),
        {
          name: 'cart email',
          req: { method: 'POST', target: '/carts', headers: [JSON_TYPE], body: Buffer.concat([Buffer.from('{"email":"'), Buffer.from([0xff, 0xfe]), Buffer.from('@example.com"}')]) },
          status: 400,
          code: 'invalid_request',
          field: '(body)',
        },
      ]);
    });

    it('JSON strings PostgreSQL cannot store (NUL, lone surrogates) are a 400 invalid_request naming the field', async () => {
      const put = (body: string) => ({ method: 'PUT', target: `/admin/products/${sku}`, headers: [ADMIN, JSON_TYPE], body });
      await expectAll([
        { name: 'lone high surrogate', req: put('{"name":"n","description":"x\\ud800","price":{"amount":100,"currency":"USD"}}'), status: 400, code: 'invalid_request', field: 'description' },
        { name: 'lone low surrogate in a nested value', req: put('{"name":"n","attributes":{"k":"\\udc00"},"price":{"amount":100,"currency":"USD"}}'), status: 400, code: 'invalid_request', field: 'attributes.k' },
        { name: 'NUL in a key', req: put('{"name":"n","attributes":{"k\\u0000":"v"},"price":{"amount":100,"currency":"USD"}}'), status: 400, code: 'invalid_request', field: 'attributes' },
        {
          name: 'NUL in a cancel reason',
          req: { method: 'POST', target: '/admin/orders/ord_unknown/cancel', headers: [ADMIN, JSON_TYPE], body: '{"reason":"a\\u0000"}' },
          status: 400,
          code: 'invalid_request',
          field: 'reason',
        },
      ]);
      // a surrogate pair is one character, and fine
      const ok = await send(put('{"name":"Mug \\ud83d\\ude00","price":{"amount":100,"currency":"USD"}}'));
      expect([ok.status, ok.body.name]).toEqual([200, 'Mug 😀']);
    });

    it('a compressed body that does not inflate is a 400, an unknown content encoding a 415', async () => {
      const gzip: [string, string] = ['Content-Encoding', 'gzip'];
      await expectAll([
        { name: 'gzip garbage', req: { method: 'POST', target: '/carts', headers: [JSON_TYPE, gzip], body: 'not gzip at all' }, status: 400, code: 'invalid_request', field: '(body)' },
        { name: 'unknown encoding', req: { method: 'POST', target: '/carts', headers: [JSON_TYPE, ['Content-Encoding', 'zip-it']], body: '{}' }, status: 415, code: 'unsupported_media_type' },
      ]);
      const good = await send({ method: 'POST', target: '/carts', headers: [JSON_TYPE, gzip], body: gzipSync(JSON.stringify({ email: 'gz@example.com' })) });
      expect([good.status, good.body.email]).toEqual([201, 'gz@example.com']);
    });
  });
});
