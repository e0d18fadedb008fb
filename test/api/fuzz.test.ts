import fc from 'fast-check';
import { Pool } from 'pg';
import { isErrorCode } from '../../api/errors';
import { createTestDatabase } from '../helpers/database';
import { databaseFingerprint, redisFingerprint } from '../helpers/fingerprint';
import { rawRequest } from '../helpers/raw-http';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Generated requests over every route (the short run; the long one belongs to the fault
 * harness), written raw on a socket so that malformed bytes reach the server as they are:
 * junk in paths and queries, arbitrary header values, content types and body bytes. No
 * answer is a 5xx, every error has the contract's shape, and a rejected request writes
 * nothing. Runs against a database and Redis database of its own, with no worker, so
 * nothing else writes while it fingerprints them.
 */
describe('generated requests (fast-check)', () => {
  let stack: Stack;
  let database: { url: string; drop(): Promise<void> };
  let pool: Pool;
  let sku: string;
  let cartId: string;
  const redisDb = 7;

  beforeAll(async () => {
    database = await createTestDatabase('fuzz');
    stack = await startStack({ env: { DATABASE_URL: database.url, REDIS_URL: `${process.env.REDIS_URL}/${redisDb}`, CHECKOUT_WAIT_MS: '0' } });
    await stack.redis.flushdb();
    pool = new Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => undefined); // an idle client cut off by the database's drop is no failure
    sku = await createProduct(stack.dbs, { onHand: 5 });
    cartId = (await stack.http('POST', '/carts', { body: { email: 'fuzz@example.com' } })).body.id;
    await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } });
  });
  afterAll(async () => {
    await pool?.end();
    await stack?.close();
    await database?.drop();
  });

  const writes = async () => `${await databaseFingerprint(pool)}/${await redisFingerprint(stack.redis)}`;

  // `npm test` runs 1,500; `npm run faults` runs the long version (FUZZ_RUNS=20000).
  const runs = Number(process.env.FUZZ_RUNS ?? 1_500);
  it(`${runs.toLocaleString('en')} generated requests, raw bytes included: never a 5xx, errors in the contract shape, no write from a rejected request`, async () => {
    /** Bytes without CR and LF: those frame HTTP/1.1 rather than being part of a value. */
    const lineBytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a.filter((b) => b !== 0x0a && b !== 0x0d)));
    const hexByte = fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`);
    // A path segment or query value as it goes on the wire.
    const segment: fc.Arbitrary<Buffer> = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(sku, cartId, 'ord_unknown', 'chk_unknown', '..', '%00', 'a'.repeat(300)).map((s) => Buffer.from(encodeURIComponent(s))) },
      { weight: 3, arbitrary: fc.string({ maxLength: 20 }).map((s) => Buffer.from(encodeURIComponent(s))) },
      // any Unicode text, control characters and lone surrogates included (encodeURIComponent refuses the latter: sent raw)
      { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((s) => Buffer.from(/\p{Cs}/u.test(s) ? s : encodeURIComponent(s))) },
      // percent-encoded junk: random bytes (mostly not UTF-8), truncated escapes, lone percent signs
      { weight: 3, arbitrary: fc.array(fc.oneof(hexByte, fc.constantFrom('%', '%g', '%E0%A4', '%ED%A0%80', '%C0%AF', '%C2%85', 'a')), { minLength: 1, maxLength: 6 }).map((parts) => Buffer.from(parts.join(''))) },
      // raw bytes straight into the request target
      { weight: 2, arbitrary: lineBytes(8) },
    );
    const target = fc
      .tuple(
        fc.constantFrom(
          '/products', '/products/{}', '/products/{}/recommendations', '/products/suggest', '/carts', '/carts/{}', '/carts/{}/lines/{}', '/checkouts', '/checkouts/{}',
          '/orders', '/orders/{}', '/orders/{}/refunds', '/admin/inventory/{}', '/admin/products/{}', '/admin/orders/{}/retry', '/admin/orders/{}/cancel',
          '/unsubscribe', '/health', '/openapi.json', '/nowhere', '/{}',
        ),
        fc.array(segment, { minLength: 2, maxLength: 2 }),
        fc.dictionary(fc.constantFrom('q', 'limit', 'cursor', 'minPrice', 'maxPrice', 'inStock', 'sort', 'category', 'token', 'email', 'customerId', 'x'), fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String))),
        fc.option(segment, { freq: 4, nil: undefined }),
      )
      .map(([template, [a, b], query, rawQuery]) => {
        const [head = '', ...rest] = template.split('{}');
        const parts: Buffer[] = [Buffer.from(head)];
        rest.forEach((tail, i) => parts.push((i === 0 ? a : b) ?? Buffer.alloc(0), Buffer.from(tail)));
        const qs = new URLSearchParams(query).toString();
        if (qs || rawQuery) parts.push(Buffer.from(`?${qs}`));
        if (rawQuery) parts.push(Buffer.from(`${qs ? '&' : ''}q=`), rawQuery);
        return Buffer.concat(parts);
      });

    const money = fc.oneof(fc.record({ amount: fc.oneof(fc.integer(), fc.double()), currency: fc.constantFrom('USD', 'usd', 'EUR', '') }), fc.jsonValue());
    const json = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record({ quantity: fc.oneof(fc.integer({ min: -5, max: 200 }), fc.double(), fc.string(), fc.constant(null)) }),
      fc.record(
        {
          cartId: fc.constantFrom(cartId, 'cart_x', ''),
          email: fc.oneof(fc.emailAddress(), fc.string()),
          paymentToken: fc.constantFrom('tok_visa', 'tok_chargeDeclined', '4242424242424242', 'tok visa', ''),
          expectedTotal: fc.option(money, { nil: undefined }),
        },
        { requiredKeys: [] },
      ),
      fc.record({ amount: fc.option(money, { nil: undefined }), reason: fc.option(fc.string({ unit: 'binary' }), { nil: undefined }), onHand: fc.option(fc.integer(), { nil: undefined }) }, { requiredKeys: [] }),
      fc.record(
        {
          name: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('Fuzzed mug'), fc.integer(), fc.string({ unit: 'binary', maxLength: 10 })),
          description: fc.option(fc.string({ unit: 'binary', maxLength: 30 }), { nil: undefined }),
          category: fc.option(fc.oneof(fc.string({ maxLength: 10 }), fc.constant(null)), { nil: undefined }),
          attributes: fc.option(fc.oneof(fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean())), fc.jsonValue({ maxDepth: 2 })), { nil: undefined }),
          price: money,
          active: fc.option(fc.oneof(fc.boolean(), fc.string({ maxLength: 4 })), { nil: undefined }),
        },
        { requiredKeys: [] },
      ),
    );
    // JSON.stringify escapes lone surrogates; the bytes variants put junk into the encoding itself
    const body = fc.oneof(
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 6, arbitrary: json.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
      { weight: 1, arbitrary: fc.tuple(json, fc.nat(), lineBytes(4)).map(([v, at, junk]) => {
        const text = Buffer.from(JSON.stringify(v) ?? 'null');
        const i = at % (text.length + 1);
        return Buffer.concat([text.subarray(0, i), junk, text.subarray(i)]);
      }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 50 }).map((a) => Buffer.from(a)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 50 }).map((s) => Buffer.from(s)) },
    );
    const contentType = fc.oneof(
      fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'application/problem+json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'multipart/form-data'),
      lineBytes(30),
    );
    const headerValue = (known: fc.Arbitrary<string>) => fc.oneof(known, fc.string({ maxLength: 300 }), lineBytes(40));
    const headers = fc.record(
      {
        'Idempotency-Key': headerValue(fc.constantFrom('k1', 'k2')),
        Authorization: headerValue(fc.constantFrom('Bearer dev-admin-token', 'Bearer nope', 'Basic x', '')),
        'Content-Type': contentType,
        'Content-Encoding': fc.constantFrom('gzip', 'identity', 'br', 'zip-it'),
        'X-Fuzz': lineBytes(60),
      },
      { requiredKeys: [] },
    );
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH');
    const chunked = fc.boolean();

    let requests = 0;
    await fc.assert(
      fc.asyncProperty(method, target, body, headers, chunked, async (m, t, b, h, isChunked) => {
        requests++;
        const before = await writes();
        const res = await rawRequest(stack.baseUrl, {
          method: m,
          target: t,
          headers: Object.entries(h).flatMap(([name, value]): [string, string | Buffer][] => (value === undefined ? [] : [[name, value]])),
          body: b,
          chunked: isChunked,
        });
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) {
          expect(isErrorCode(res.body?.error?.code)).toBe(true);
          expect(typeof res.body?.error?.message).toBe('string');
          expect(await writes()).toBe(before);
        }
      }),
      { numRuns: runs, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(requests).toBe(runs);
  }, Math.max(180_000, runs * 60));
});
