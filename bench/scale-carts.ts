/**
 * Cost curves, cart part (bench/scale.ts): what a cart costs in Redis and whether cart operations
 * slow down with a million of them. A redis-server of the bench's own (a free port, no
 * persistence; stopped by its pid) so the shared one is not bloated: the cart operations of
 * bench/cart-operations.ts (an API in its own process, concurrency 10) on the empty Redis, then
 * N carts written with pipelined SETs in the cart store's layout (db/stores/cart.ts: one JSON
 * string per cart at cartKey(id), with the cart TTL), INFO memory before and after, and the same
 * cart operations again at that size.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { randomId } from '../db/ids';
import { upsertProduct } from '../db/stores/catalog';
import { cartKey, type StoredCart } from '../db/stores/cart';
import { setOnHand } from '../db/stores/inventory';
import { measureCartOperations } from './cart-operations';
import { freePort } from './servers';
import type { ScaleMode } from './scale-mode';

const PIPELINE = 1_000;
const ROUNDS = 2;
type CartOps = Awaited<ReturnType<typeof measureCartOperations>>;

/** A cart as the store writes it: 1–3 lines, a third with an address, version and times. */
function sampleCart(n: number, now: string): StoredCart {
  const lines = Array.from({ length: 1 + (n % 3) }, (_, l) => ({ sku: `SCALE-${String((n * 7 + l * 13) % 100_000).padStart(9, '0')}`, quantity: 1 + ((n + l) % 3) }));
  return { id: randomId('cart'), currency: 'USD', ...(n % 3 === 0 ? { email: `shopper${n}@example.com` } : {}), lines, version: 1 + lines.length, createdAt: now, updatedAt: now };
}

async function usedMemory(redis: Redis): Promise<{ usedMemory: number; keys: number }> {
  const info = await redis.info('memory');
  const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
  return { usedMemory: used, keys: await redis.dbsize() };
}

/** Calls and microseconds per call of the commands the cart operations send (INFO commandstats since RESETSTAT). */
async function commandStats(redis: Redis): Promise<Record<string, { calls: number; usecPerCall: number }>> {
  const info = await redis.info('commandstats');
  const out: Record<string, { calls: number; usecPerCall: number }> = {};
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=\d+,usec_per_call=([\d.]+)/g)) {
    const [, name, calls, per] = m;
    if (name && ['get', 'set', 'evalsha', 'eval'].includes(name)) out[name] = { calls: Number(calls), usecPerCall: Number(per) };
  }
  return out;
}

/** Starts redis-server on a free port in the foreground of a child process; resolves once it answers PING. */
async function ownRedis(): Promise<{ url: string; stop: () => Promise<void>; pid: number }> {
  const port = await freePort();
  const child = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory', '0'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused until the server listens: retried below
  for (let t = 0; ; t++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      probe.disconnect();
      if (t > 100 || child.exitCode !== null) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return {
    url,
    pid: child.pid as number,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function measureCarts(mode: ScaleMode) {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent' });
  const dbs = createDatabases(config);
  const sku = `SCALE-CART-${Date.now().toString(36)}`;
  await upsertProduct(dbs.catalog, { sku, name: 'Scale cart item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 10_000_000);
  await dbs.close();

  // two servers of the bench's own: the carts go to one, the other stays empty; the cart
  // operations are measured on both in alternating rounds (same run, same load on the machine)
  const own = await ownRedis();
  const emptyRedis = await ownRedis();
  const redis = new Redis(own.url);
  try {
    const before = await usedMemory(redis);
    const now = new Date().toISOString();
    let jsonBytes = 0;
    const t0 = performance.now();
    for (let i = 0; i < mode.carts; i += PIPELINE) {
      const p = redis.pipeline();
      for (let n = i; n < Math.min(mode.carts, i + PIPELINE); n++) {
        const cart = sampleCart(n, now);
        const json = JSON.stringify(cart);
        jsonBytes += json.length;
        p.set(cartKey(cart.id), json, 'EX', config.cart.ttlSeconds);
      }
      await p.exec();
    }
    const loadSeconds = (performance.now() - t0) / 1000;
    const after = await usedMemory(redis);
    process.stdout.write(`[scale] carts: ${after.keys} carts written in ${loadSeconds.toFixed(1)} s, used_memory ${before.usedMemory} → ${after.usedMemory}\n`);
    const emptyClient = new Redis(emptyRedis.url);
    await Promise.all([redis.config('RESETSTAT'), emptyClient.config('RESETSTAT')]);
    const rounds: { empty: CartOps; full: CartOps }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const empty = await measureCartOperations(sku, { REDIS_URL: emptyRedis.url, REDIS_CLUSTER_NODES: '' });
      const full = await measureCartOperations(sku, { REDIS_URL: own.url, REDIS_CLUSTER_NODES: '' });
      rounds.push({ empty, full });
      process.stdout.write(`[scale] carts round ${round + 1}: empty ${JSON.stringify(empty)} / at ${mode.carts}: ${JSON.stringify(full)}\n`);
    }
    // Redis's own time per command (INFO commandstats): no network, no scheduling of the API
    const [statsEmpty, statsFull] = await Promise.all([commandStats(emptyClient), commandStats(redis)]);
    emptyClient.disconnect();
    const mean = (pick: (r: { empty: CartOps; full: CartOps }) => number) => +(rounds.reduce((sum, r) => sum + pick(r), 0) / rounds.length).toFixed(1);
    const result = {
      carts: mode.carts,
      loadSeconds: +loadSeconds.toFixed(1),
      cartsPerSecondLoaded: Math.round(mode.carts / loadSeconds),
      usedMemoryBefore: before.usedMemory,
      usedMemoryAfter: after.usedMemory,
      bytesPerCart: Math.round((after.usedMemory - before.usedMemory) / mode.carts),
      averageJsonBytes: Math.round(jsonBytes / mode.carts),
      mibPerMillionCarts: +(((after.usedMemory - before.usedMemory) / mode.carts) * 1e6 / 2 ** 20).toFixed(0),
      redisMicrosecondsPerCall: { empty: statsEmpty, atSize: statsFull },
      rounds: ROUNDS,
      empty: { putP50ms: mean((r) => r.empty.addUpdateP50ms), putP99ms: mean((r) => r.empty.addUpdateP99ms), getP50ms: mean((r) => r.empty.getP50ms), getP99ms: mean((r) => r.empty.getP99ms), perSecond: mean((r) => r.empty.perSecond) },
      atSize: { putP50ms: mean((r) => r.full.addUpdateP50ms), putP99ms: mean((r) => r.full.addUpdateP99ms), getP50ms: mean((r) => r.full.getP50ms), getP99ms: mean((r) => r.full.getP99ms), perSecond: mean((r) => r.full.perSecond) },
      shape: `a redis-server of the bench's own (no persistence); carts of 1–3 lines, a third with an email, as the store writes them (${'cart:{id}'} JSON, TTL ${config.cart.ttlSeconds} s), ${PIPELINE} SETs per pipeline; PUT line / GET cart through an API in its own process at concurrency 10 (bench/cart-operations.ts), on an empty Redis and on the one with ${mode.carts} carts, alternating, ${ROUNDS} rounds each (means)`,
    };
    process.stdout.write(`[scale] carts: ${JSON.stringify(result)}\n`);
    return result;
  } finally {
    redis.disconnect();
    await own.stop();
    await emptyRedis.stop();
  }
}
