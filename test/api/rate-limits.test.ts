import { randomBytes } from 'node:crypto';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../config';
import { createRateLimits } from '../../api/rate-limit';
import { errorMiddleware } from '../../api/errors';
import { createRedis, type RedisClient } from '../../db/redis';
import { createLogger } from '../../logger';
import { closedPort, createTestDeps, startTestApp, type TestDeps } from '../helpers/app';
import { redisTargets } from '../helpers/redis-cluster';

/** Rate limits hold across API processes (the counters live in Redis) and key on the right client. */

const limitEnv = (extra: Record<string, string> = {}) => ({
  RATE_LIMITS_ENABLED: 'true',
  RATE_LIMIT_NAMESPACE: `t-${randomBytes(5).toString('hex')}`,
  TRUST_PROXY: 'loopback',
  ...extra,
});

/** Until its connection is ready a process counts in memory (rejectIfRedisNotReady): the shared-count tests wait for it. */
async function ready(redis: RedisClient): Promise<void> {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
}

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; details?: unknown } }).error;

const get = (baseUrl: string, path: string, headers: Record<string, string> = {}) => fetch(`${baseUrl}${path}`, { headers });

describe.each(redisTargets)('rate limits on %s', (_target, connect) => {
  let release: (() => Promise<void>) | undefined;
  const opened: { deps: TestDeps; close(): Promise<void> }[] = [];
  let redisEnv: Record<string, string> = {};
  beforeAll(async () => {
    const redis = await connect();
    release = redis.release;
    redisEnv = redis.env;
  });
  afterEach(async () => {
    for (const { deps, close } of opened.splice(0)) {
      await close();
      await deps.close();
    }
  });
  afterAll(async () => {
    await release?.();
  });

  /** Two API instances on their own ports with their own Redis clients: what two processes share is Redis only. */
  async function twoApis(env: Record<string, string>): Promise<[string, string]> {
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const deps = await createTestDeps({ ...redisEnv, ...env });
      await ready(deps.redis);
      const app = await startTestApp(deps);
      opened.push({ deps, close: app.close });
      urls.push(app.baseUrl);
    }
    return urls as [string, string];
  }

  it('a burst from one IP across two API processes gets 429 rate_limited with Retry-After; another IP is not affected', async () => {
    const [a, b] = await twoApis(limitEnv({ RATE_LIMIT_IP: '5/60' }));
    const from = (ip: string) => ({ 'X-Forwarded-For': ip });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await get(i % 2 === 0 ? a : b, '/openapi.json', from('203.0.113.7'));
      statuses.push(res.status);
      expect(res.headers.get('ratelimit-policy')).toBe('"ip";q=5;w=60');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"ip";r=${4 - i};t=\\d+$`));
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);

    const refused = await get(b, '/openapi.json', from('203.0.113.7'));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toMatch(/^"ip";r=0;t=\d+$/);
    expect((await errorOf(refused))).toMatchObject({ code: 'rate_limited', details: { policy: 'ip' } });
    expect((await get(a, '/openapi.json', from('203.0.113.7'))).status).toBe(429);

    const other = await get(a, '/openapi.json', from('203.0.113.8'));
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit')).toMatch(/^"ip";r=4;t=\d+$/);
  });

  it('the limit counts before the body is read (a malformed body still counts) and leaves /health alone', async () => {
    const [a, b] = await twoApis(limitEnv({ RATE_LIMIT_IP: '2/60' }));
    const junk = (url: string) => fetch(`${url}/carts`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Forwarded-For': '203.0.113.50' }, body: '{not json' });
    expect((await junk(a)).status).toBe(400);
    expect((await junk(b)).status).toBe(400);
    expect((await junk(a)).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await get(b, '/health', { 'X-Forwarded-For': '203.0.113.50' })).status).not.toBe(429);
  });

  it('without a trusted proxy, X-Forwarded-For is ignored: a client cannot rotate it to escape the limit', async () => {
    const [a, b] = await twoApis(limitEnv({ RATE_LIMIT_IP: '3/60', TRUST_PROXY: 'false' }));
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(i % 2 === 0 ? a : b, '/openapi.json', { 'X-Forwarded-For': `198.51.100.${i}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it('POST /checkouts has its own, stricter limit per client; other routes still answer', async () => {
    const [a, b] = await twoApis(limitEnv({ RATE_LIMIT_CHECKOUT: '2/600' }));
    const post = (url: string) =>
      fetch(`${url}/checkouts`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Forwarded-For': '203.0.113.20', 'Idempotency-Key': randomBytes(8).toString('hex') }, body: '{}' });
    // the body is invalid (400) but each attempt counts: the limit is about attempts
    expect((await post(a)).status).toBe(400);
    expect((await post(b)).status).toBe(400);
    const third = await post(a);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(third.headers.get('ratelimit-policy')).toBe('"ip";q=600;w=60, "checkout";q=2;w=600');
    expect(third.headers.get('ratelimit')).toMatch(/^"checkout";r=0;t=\d+$/);
    expect((await get(b, '/openapi.json', { 'X-Forwarded-For': '203.0.113.20' })).status).toBe(200);
  });

  it('POST /carts with an email is limited; without an email it is not', async () => {
    const [a, b] = await twoApis(limitEnv({ RATE_LIMIT_CART_EMAIL: '2/3600' }));
    const post = (url: string, body: object) =>
      fetch(`${url}/carts`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Forwarded-For': '203.0.113.30' }, body: JSON.stringify(body) });
    expect((await post(a, { email: 'one@example.com' })).status).toBe(201);
    expect((await post(b, { email: 'two@example.com' })).status).toBe(201);
    const third = await post(a, { email: 'three@example.com' });
    expect(third.status).toBe(429);
    expect((await errorOf(third)).details).toMatchObject({ policy: 'cart-email' });
    expect((await post(b, {})).status).toBe(201);
  });
});

describe('rate limits per customer', () => {
  const config = () => loadConfig({ ...process.env, ...limitEnv({ RATE_LIMIT_IP: '1000/60', RATE_LIMIT_CUSTOMER: '3/60', RATE_LIMIT_CHECKOUT: '1000/600' }) });

  /** A tiny app as server.ts would build it, with a test-only stand-in for api/customer-auth.ts setting res.locals.customer. */
  async function customerApp(cfg: ReturnType<typeof loadConfig>, waitForRedis = true) {
    const redis = createRedis(cfg, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    if (waitForRedis) await ready(redis);
    const limits = createRateLimits(cfg.rateLimits, redis, createLogger('silent'));
    const app = express();
    app.set('trust proxy', cfg.trustProxy);
    app.use((req, res, next) => {
      const id = req.get('x-test-customer');
      if (id) res.locals.customer = { id };
      next();
    });
    app.use(limits.general);
    app.get('/ping', (_req, res) => {
      res.json({ ok: true });
    });
    app.use(errorMiddleware(createLogger('silent')));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      async close() {
        await new Promise((resolve) => server.close(resolve));
        redis.disconnect();
      },
    };
  }

  it('one customer bursting across two processes is refused; another customer on the same IP is not', async () => {
    const cfg = config();
    const apps = [await customerApp(cfg), await customerApp(cfg)];
    try {
      const as = (customer: string, i: number) => get(apps[i % 2]!.url, '/ping', { 'x-test-customer': customer, 'X-Forwarded-For': '203.0.113.40' });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await as('cus_A', i)).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const refused = await as('cus_A', 1);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(refused.headers.get('ratelimit-policy')).toBe('"ip";q=1000;w=60, "customer";q=3;w=60');
      expect(refused.headers.get('ratelimit')).toMatch(/^"customer";r=0;t=\d+$/);
      expect((await errorOf(refused))).toMatchObject({ code: 'rate_limited', details: { policy: 'customer' } });
      expect((await as('cus_B', 0)).status).toBe(200);
      // anonymous requests from that IP count against the IP only
      expect((await get(apps[0]!.url, '/ping', { 'X-Forwarded-For': '203.0.113.40' })).status).toBe(200);
    } finally {
      for (const app of apps) await app.close();
    }
  });

  it('Redis unreachable: requests are let through (fail open) and an in-memory limit per process still holds', async () => {
    const cfg = { ...config(), redisUrl: `redis://127.0.0.1:${await closedPort()}`, redisCluster: undefined };
    const app = await customerApp(cfg, false);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await get(app.url, '/ping', { 'x-test-customer': 'cus_C' })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await app.close();
    }
  });
});
