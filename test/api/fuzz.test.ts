import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Pool } from 'pg';
import { runMigrations } from '../../db/migrate';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Generated requests over every route (the short run; the long one belongs to the fault
 * harness): no answer is a 5xx, every error has the contract's shape, and a rejected
 * request writes nothing. Runs against a database and Redis index of its own, with no
 * worker, so nothing else writes while it counts.
 */
const COUNT_ROWS = `select
  (select count(*) from catalog.products) + (select coalesce(sum(version), 0) from catalog.products) + (select count(*) from catalog.search_outbox) + (select count(*) from inventory.stock) + (select count(*) from inventory.holds)
  + (select count(*) from cart.carts) + (select coalesce(sum(version), 0) from cart.carts)
  + (select count(*) from orders.checkouts) + (select count(*) from orders.orders) + (select count(*) from orders.order_events)
  + (select count(*) from payment.payments) + (select count(*) from payment.refunds) + (select count(*) from notification.opt_outs)
  + (select coalesce(sum(on_hand + reserved), 0) from inventory.stock) as n`;

describe('generated requests (fast-check)', () => {
  let stack: Stack;
  let pool: Pool;
  let admin: Pool;
  let dbName: string;
  let sku: string;
  let cartId: string;
  const redisDb = 7;

  beforeAll(async () => {
    const base = new URL(process.env.DATABASE_URL as string);
    dbName = `orderly_fuzz_${randomBytes(4).toString('hex')}`;
    admin = new Pool({ connectionString: base.toString(), max: 1 });
    await admin.query(`create database ${dbName}`);
    const url = new URL(base.toString());
    url.pathname = `/${dbName}`;
    await runMigrations({ databaseUrls: { catalog: url.toString(), inventory: url.toString(), cart: url.toString(), order: url.toString(), payment: url.toString(), notification: url.toString() } });
    stack = await startStack({ env: { DATABASE_URL: url.toString(), REDIS_URL: `${process.env.REDIS_URL}/${redisDb}`, CHECKOUT_WAIT_MS: '0' } });
    await stack.redis.flushdb();
    pool = new Pool({ connectionString: url.toString(), max: 2 });
    sku = await createProduct(stack.dbs, { onHand: 5 });
    cartId = (await stack.http('POST', '/carts', { body: { email: 'fuzz@example.com' } })).body.id;
    await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } });
  });
  afterAll(async () => {
    await pool?.end();
    await stack?.close();
    await admin?.query(`drop database if exists ${dbName} with (force)`);
    await admin?.end();
  });

  const writes = async () => {
    const { rows } = await pool.query<{ n: string }>(COUNT_ROWS);
    return `${rows[0]?.n}/${await stack.redis.dbsize()}`;
  };

  // `npm test` runs 1,500; `npm run faults` runs the long version (FUZZ_RUNS=20000).
  const runs = Number(process.env.FUZZ_RUNS ?? 1_500);
  it(`${runs.toLocaleString('en')} generated requests: never a 5xx, errors in the contract shape, no write from a rejected request`, async () => {
    const segment = fc.oneof(
      fc.constantFrom(() => sku, () => cartId, () => 'ord_unknown', () => 'chk_unknown', () => '..', () => '%00', () => 'a'.repeat(300)),
      fc.string({ maxLength: 20 }).map((s) => () => s),
    );
    const path = fc
      .tuple(
        fc.constantFrom(
          '/products', '/products/{}', '/products/suggest', '/carts', '/carts/{}', '/carts/{}/lines/{}', '/checkouts', '/checkouts/{}',
          '/orders', '/orders/{}', '/orders/{}/refunds', '/admin/inventory/{}', '/admin/products/{}', '/admin/orders/{}/retry', '/admin/orders/{}/cancel',
          '/unsubscribe', '/health', '/openapi.json', '/nowhere',
        ),
        fc.array(segment, { minLength: 2, maxLength: 2 }),
        fc.dictionary(fc.constantFrom('q', 'limit', 'cursor', 'minPrice', 'maxPrice', 'inStock', 'sort', 'category', 'token', 'email', 'x'), fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String))),
      )
      .map(([template, [a, b], query]) => {
        let i = 0;
        const filled = template.replace(/\{\}/g, () => encodeURIComponent((i++ === 0 ? a : b)?.() ?? ''));
        const qs = new URLSearchParams(query).toString();
        return qs ? `${filled}?${qs}` : filled;
      });
    const money = fc.oneof(fc.record({ amount: fc.oneof(fc.integer(), fc.double()), currency: fc.constantFrom('USD', 'usd', 'EUR', '') }), fc.jsonValue());
    const body = fc.oneof(
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 3 }).map((v) => ({ json: v })),
      fc.record({ quantity: fc.oneof(fc.integer({ min: -5, max: 200 }), fc.double(), fc.string(), fc.constant(null)) }).map((v) => ({ json: v })),
      fc
        .record({
          cartId: fc.constantFrom(cartId, 'cart_x', ''),
          email: fc.oneof(fc.emailAddress(), fc.string()),
          paymentToken: fc.constantFrom('tok_visa', 'tok_chargeDeclined', '4242424242424242', 'tok visa', ''),
          expectedTotal: fc.option(money, { nil: undefined }),
        }, { requiredKeys: [] })
        .map((v) => ({ json: v })),
      fc.record({ amount: fc.option(money, { nil: undefined }), reason: fc.option(fc.string(), { nil: undefined }), onHand: fc.option(fc.integer(), { nil: undefined }) }, { requiredKeys: [] }).map((v) => ({ json: v })),
      fc
        .record(
          {
            name: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('Fuzzed mug'), fc.integer()),
            description: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
            category: fc.option(fc.oneof(fc.string({ maxLength: 10 }), fc.constant(null)), { nil: undefined }),
            attributes: fc.option(fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean())), fc.jsonValue({ maxDepth: 2 })), { nil: undefined }),
            price: money,
            active: fc.option(fc.oneof(fc.boolean(), fc.string({ maxLength: 4 })), { nil: undefined }),
          },
          { requiredKeys: [] },
        )
        .map((v) => ({ json: v })),
      fc.string({ maxLength: 50 }).map((raw) => ({ raw })),
    );
    const headers = fc.record(
      {
        'Idempotency-Key': fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('k1', 'k2')),
        Authorization: fc.constantFrom('Bearer dev-admin-token', 'Bearer nope', 'Basic x', ''),
        'content-type': fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1'),
      },
      { requiredKeys: [] },
    );
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH');

    let requests = 0;
    await fc.assert(
      fc.asyncProperty(method, path, body, headers, async (m, p, b, h) => {
        requests++;
        const cleanHeaders = Object.fromEntries(Object.entries(h).filter(([, v]) => v !== '' && /^[\x20-\x7e]*$/.test(v)));
        const before = await writes();
        const res = await stack.http(m, p, {
          headers: cleanHeaders,
          ...(m === 'GET' || m === 'DELETE' || b === undefined ? {} : 'raw' in b ? { rawBody: b.raw } : { body: b.json }),
        });
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) {
          expect(typeof res.body?.error?.code).toBe('string');
          expect(await writes()).toBe(before);
        }
      }),
      { numRuns: runs, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(requests).toBe(runs);
  }, Math.max(180_000, runs * 60));
});
