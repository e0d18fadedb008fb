import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import type { Request, Response } from 'express';
import { createRateLimits } from '../api/rate-limit';
import { createRedis } from '../db/redis';
import { createLogger } from '../logger';
import { measureCartOperations } from './cart-operations';
import { pct, runLevel } from './harness';

/**
 * The limiter's own latency, in this process: the general middleware (the one every cart
 * operation passes; one Redis Lua call) run 5,000 times at concurrency 10 on one key. It is
 * what the limiter adds to a request, without the end-to-end noise of a shared machine.
 */
async function middlewareLatency() {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', RATE_LIMITS_ENABLED: 'true', RATE_LIMIT_IP: '100000000/60', RATE_LIMIT_NAMESPACE: `bench-mw-${Date.now().toString(36)}` });
  const redis = createRedis(config);
  await redis.ping();
  const { general } = createRateLimits(config.rateLimits, redis, createLogger('silent'));
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const res = { locals: {}, headers: {} as Record<string, unknown>, getHeader(n: string) { return this.headers[n]; }, setHeader(n: string, v: unknown) { this.headers[n] = v; } };
      void general({ ip: '203.0.113.1', method: 'PUT', path: '/carts/cart_x/lines/sku', body: {} } as unknown as Request, res as unknown as Response, (err?: unknown) => (err ? reject(err as Error) : resolve()));
    });
  await runLevel(10, 500, once);
  const latencies: number[] = [];
  await runLevel(10, 5000, async () => {
    const t = performance.now();
    await once();
    latencies.push(performance.now() - t);
  });
  // the floor: one plain Redis round trip (PING) under the same load
  const pings: number[] = [];
  await runLevel(10, 5000, async () => {
    const t = performance.now();
    await redis.ping();
    pings.push(performance.now() - t);
  });
  redis.disconnect();
  return {
    calls: 5000,
    concurrency: 10,
    p50ms: +pct(latencies, 50).toFixed(3),
    p99ms: +pct(latencies, 99).toFixed(3),
    redisPingP50ms: +pct(pings, 50).toFixed(3),
    redisPingP99ms: +pct(pings, 99).toFixed(3),
  };
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/**
 * Paired: two API processes at once, one with the limiter off and one with it on, and one load
 * generator whose requests alternate between them (PUT /carts/:id/lines/:sku only), so both
 * see the same moments of a busy machine. The fairest end-to-end comparison on a shared host.
 */
async function pairedPuts(sku: string, on: Record<string, string>, off: Record<string, string>) {
  const servers = await Promise.all(
    [off, on].map(async (env) => {
      const port = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../api/server.ts')], {
        env: { ...process.env, PORT: String(port), LOG_LEVEL: 'silent', ORDERLY_MODE: 'test', REDIS_CLUSTER_NODES: '', ...env },
        stdio: 'ignore',
      });
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 150; i++) {
        if (await fetch(`${base}/health`).then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const carts: string[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${base}/carts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        carts.push(((await res.json()) as { id: string }).id);
      }
      return { child, base, carts, latencies: [] as number[] };
    }),
  );
  const put = (server: (typeof servers)[number], i: number) =>
    fetch(`${server.base}/carts/${server.carts[i % 10]}/lines/${sku}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quantity: (i % 5) + 1 }) }).then((r) => r.arrayBuffer());
  await runLevel(10, 600, (i) => put(servers[i % 2] as (typeof servers)[number], i).then(() => undefined));
  await runLevel(10, 4000, async (i) => {
    const server = servers[i % 2] as (typeof servers)[number];
    const t = performance.now();
    await put(server, i >> 1);
    server.latencies.push(performance.now() - t);
  });
  for (const s of servers) s.child.kill('SIGTERM');
  const [offS, onS] = servers as [(typeof servers)[number], (typeof servers)[number]];
  const row = (l: number[]) => ({ p50ms: +pct(l, 50).toFixed(2), p99ms: +pct(l, 99).toFixed(2) });
  return { requests: 4000, concurrency: 10, off: row(offS.latencies), on: row(onS.latencies), addedP99ms: +(pct(onS.latencies, 99) - pct(offS.latencies, 99)).toFixed(2), addedP50ms: +(pct(onS.latencies, 50) - pct(offS.latencies, 50)).toFixed(2) };
}

/**
 * What the rate limiter (api/rate-limit.ts: one Redis Lua call per policy and request) adds to
 * cart operations: the same load (PUT /carts/:id/lines/:sku and GET /carts/:id at concurrency
 * 10, the API in its own process) with the limiter off and on, alternating in one run so both
 * see the same machine. The limits are set high enough that nothing is refused: the cost
 * measured is the counting. Target: < 1 ms added at p99. On a busy machine the end-to-end
 * difference drowns in noise, so the same PUTs also run paired (pairedPuts: both servers at once,
 * alternating requests) and the middleware's own latency is measured beside a Redis PING.
 * Writes bench/results/rate-limit-latest.json.
 */
async function main() {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent' });
  const dbs = createDatabases(config);
  const sku = `BENCH-RL-${Date.now().toString(36)}`;
  await upsertProduct(dbs.catalog, { sku, name: 'Bench item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 1_000_000);
  await dbs.close();
  const rounds = Number(process.env.BENCH_RATE_LIMIT_ROUNDS ?? 3);
  const off = { RATE_LIMITS_ENABLED: 'false' };
  const on = { RATE_LIMITS_ENABLED: 'true', RATE_LIMIT_IP: '100000000/60', RATE_LIMIT_CUSTOMER: '100000000/60', RATE_LIMIT_NAMESPACE: `bench-${Date.now().toString(36)}` };
  const rows: { limiter: 'off' | 'on'; round: number; putP50ms: number; putP99ms: number; getP99ms: number; perSecond: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const [limiter, env] of [['off', off], ['on', on]] as const) {
      const r = await measureCartOperations(sku, { REDIS_CLUSTER_NODES: '', ...env });
      rows.push({ limiter, round, putP50ms: r.addUpdateP50ms, putP99ms: r.addUpdateP99ms, getP99ms: r.getP99ms, perSecond: r.perSecond });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const of = (limiter: 'off' | 'on', key: 'putP50ms' | 'putP99ms' | 'getP99ms') => median(rows.filter((r) => r.limiter === limiter).map((r) => r[key]));
  const summary = {
    rounds,
    concurrency: 10,
    putP99ms: { off: of('off', 'putP99ms'), on: of('on', 'putP99ms'), added: +(of('on', 'putP99ms') - of('off', 'putP99ms')).toFixed(2) },
    putP50ms: { off: of('off', 'putP50ms'), on: of('on', 'putP50ms'), added: +(of('on', 'putP50ms') - of('off', 'putP50ms')).toFixed(2) },
    getP99ms: { off: of('off', 'getP99ms'), on: of('on', 'getP99ms'), added: +(of('on', 'getP99ms') - of('off', 'getP99ms')).toFixed(2) },
    targetAddedP99ms: 1,
  };
  const paired = await pairedPuts(sku, on, off);
  // the same pairing with the limiter off on both sides: the noise floor of the comparison
  const pairedNoiseFloor = await pairedPuts(sku, off, off);
  const middleware = await middlewareLatency();
  console.log(JSON.stringify({ summary, paired, pairedNoiseFloor, middleware }));
  fs.writeFileSync(path.join(__dirname, 'results', 'rate-limit-latest.json'), `${JSON.stringify({ summary, paired, pairedNoiseFloor, middleware, rows }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
