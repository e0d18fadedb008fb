import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { createRedis, dataNodes, type RedisClient } from '../../db/redis';
import { carts } from '../../db/schema/cart';
import { CartLockedError, CartStore, cartKey, legacyCartKey, type StoredCart } from '../../db/stores/cart';
import { CART_SCRIPTS } from '../../db/stores/cart-scripts';
import { clusterForTests, redisTargets } from '../helpers/redis-cluster';

const randomCartId = () => `cart_${Math.random().toString(36).slice(2, 12)}${Date.now().toString(36)}`;

describe('every cart script touches only the keys it is given', () => {
  it.each(Object.entries(CART_SCRIPTS))('%s names no key of its own', (_name, script) => {
    const calls = [...script.matchAll(/redis\.call\(\s*'(\w+)'\s*(?:,\s*([^,)]+))?/g)];
    expect(calls.length).toBeGreaterThan(0);
    for (const [, , firstArg] of calls) expect(firstArg?.trim()).toMatch(/^KEYS\[\d+\]$/);
  });
});

describe.each(redisTargets)('the cart store on %s', (target, connect) => {
  let config: Config;
  let dbs: Databases;
  let redis: RedisClient;
  let store: CartStore;
  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const r = await connect();
    release = r.release;
    config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', ...r.env });
    dbs = createDatabases(config);
    redis = createRedis(config);
    store = new CartStore(redis, dbs.cart, config.cart);
  });
  afterAll(async () => {
    redis?.disconnect();
    await dbs?.close();
    await release?.();
  });

  const backupRow = async (id: string) => (await dbs.cart.select().from(carts).where(eq(carts.id, id)))[0];

  it('keeps a cart under its hash-tagged key, and a cluster writes wait for a replica', async () => {
    expect(config.cart.replicaAcks).toBe(target === 'a Redis Cluster' ? 1 : 0);
    const cart = await store.create({ currency: 'USD' });
    await store.setLine(cart.id, 'SKU-A', 2);
    expect(await redis.exists(cartKey(cart.id))).toBe(1);
    expect(cartKey(cart.id)).toBe(`cart:{${cart.id}}`);
    expect(await redis.exists(legacyCartKey(cart.id))).toBe(0);
  });

  it('a checkout lock holds the lines until it is released, then clear empties the cart', async () => {
    const cart = await store.create({ currency: 'USD', email: 'lock@example.com' });
    await store.setLine(cart.id, 'SKU-A', 1);
    expect(await store.lock(cart.id, 'co_1', Date.now() + 60_000)).toBe('co_1');
    expect(await store.lock(cart.id, 'co_2', Date.now() + 60_000)).toBe('co_1');
    await expect(store.setLine(cart.id, 'SKU-B', 1)).rejects.toBeInstanceOf(CartLockedError);
    await store.unlock(cart.id, 'co_1');
    expect((await store.setLine(cart.id, 'SKU-B', 1))?.lines).toHaveLength(2);
    const cleared = await store.clear(cart.id);
    expect(cleared?.lines).toEqual([]);
    expect((await backupRow(cart.id))?.version).toBe(cleared?.version);
  });

  it('a cart restored from its backup remembers the checkouts it gave lines up for: a re-run of that clear takes nothing the customer added since', async () => {
    const cart = await store.create({ currency: 'USD', email: 'restored@example.com' });
    await store.setLine(cart.id, 'SKU-PAID', 2);
    await store.setLine(cart.id, 'SKU-KEPT', 1);
    expect((await store.clearCheckout(cart.id, 'co_paid', [{ sku: 'SKU-PAID', quantity: 2 }]))?.lines).toEqual([{ sku: 'SKU-KEPT', quantity: 1 }]);
    expect((await backupRow(cart.id))?.cleared).toEqual(['co_paid']);
    // the Redis copy is lost (a failover without the replica, an eviction): the next write restores the backup
    await redis.del(cartKey(cart.id));
    await store.setLine(cart.id, 'SKU-PAID', 1);
    expect((await store.get(cart.id))?.cleared).toEqual(['co_paid']);
    // the paid checkout's finish runs again (an activity retry whose heartbeat was lost): the refill stays
    const again = await store.clearCheckout(cart.id, 'co_paid', [{ sku: 'SKU-PAID', quantity: 2 }]);
    expect(again?.lines).toEqual([{ sku: 'SKU-KEPT', quantity: 1 }, { sku: 'SKU-PAID', quantity: 1 }]);
  });

  describe('a cart written before the upgrade (under cart:<id>) is still there', () => {
    const legacyCart = (id: string): StoredCart => ({
      id,
      currency: 'USD',
      lines: [{ sku: 'OLD-1', quantity: 3 }, { sku: 'OLD-2', quantity: 1 }],
      version: 7,
      createdAt: new Date(Date.now() - 3_600_000).toISOString(),
      updatedAt: new Date().toISOString(),
      checkoutId: 'co_before_upgrade',
      lockedUntil: Date.now() + 60_000,
    });

    it('is read from its old key and moved, lock and lifetime included, even with no backup row', async () => {
      const id = randomCartId();
      const old = legacyCart(id);
      await redis.set(legacyCartKey(id), JSON.stringify(old), 'EX', 600);
      expect(await backupRow(id)).toBeUndefined();

      expect(await store.get(id)).toEqual(old);
      expect(await redis.exists(legacyCartKey(id))).toBe(0);
      expect(await backupRow(id)).toMatchObject({ version: 7, lines: old.lines });
      expect(JSON.parse((await redis.get(cartKey(id))) as string)).toEqual(old);
      const ttl = await redis.ttl(cartKey(id));
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
      // the checkout that locked it before the upgrade still holds it
      await expect(store.setLine(id, 'NEW-1', 1)).rejects.toBeInstanceOf(CartLockedError);
      await store.unlock(id, 'co_before_upgrade');
      const written = await store.setLine(id, 'NEW-1', 1);
      expect(written?.version).toBe(8);
      expect(written?.lines.map((l) => l.sku)).toEqual(['OLD-1', 'OLD-2', 'NEW-1']);
      expect((await backupRow(id))?.lines).toHaveLength(3);
    });

    it('a write to a cart that is only under its old key moves it first', async () => {
      const id = randomCartId();
      await redis.set(legacyCartKey(id), JSON.stringify({ ...legacyCart(id), checkoutId: undefined, lockedUntil: undefined }), 'EX', 600);
      const written = await store.setLine(id, 'OLD-1', 5);
      expect(written?.lines).toEqual([{ sku: 'OLD-1', quantity: 5 }, { sku: 'OLD-2', quantity: 1 }]);
      expect(await redis.exists(legacyCartKey(id))).toBe(0);
    });

    it('twenty concurrent first reads move it once and agree', async () => {
      const id = randomCartId();
      const old = legacyCart(id);
      await redis.set(legacyCartKey(id), JSON.stringify(old), 'EX', 600);
      const reads = await Promise.all(Array.from({ length: 20 }, () => store.get(id)));
      for (const read of reads) expect(read).toEqual(old);
      expect(await redis.exists(legacyCartKey(id))).toBe(0);
    });
  });

  describe('the reminder marker (what a write knows of the cart\'s recovery run, cart-scripts.ts RECOVERY_AFTER_WRITE)', () => {
    const markerOf = async (id: string) => (JSON.parse((await redis.get(cartKey(id))) ?? '{}') as StoredCart).recovery;

    it('concurrent writes from two processes (two connections): exactly one is told to start the run', async () => {
      const otherRedis = createRedis(config);
      const other = new CartStore(otherRedis, dbs.cart, config.cart);
      try {
        const cart = await store.create({ currency: 'USD', email: 'race@example.com' });
        const writes = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).setLine(cart.id, `SKU-${i % 5}`, 1 + (i % 3))));
        expect(writes.filter((w) => w?.recoveryKick)).toHaveLength(1);
        expect(await markerOf(cart.id)).toBe('open');
        expect(JSON.parse((await redis.get(cartKey(cart.id))) ?? '{}')).not.toHaveProperty('recoveryKick');
      } finally {
        otherRedis.disconnect();
      }
    });

    it('no email, or no lines: no run to start; after a handled reminder the next write, once, is told to signal it', async () => {
      const guest = await store.create({ currency: 'USD' });
      expect((await store.setLine(guest.id, 'SKU-A', 1))?.recoveryKick).toBeUndefined();
      expect(await markerOf(guest.id)).toBeUndefined();

      const cart = await store.create({ currency: 'USD', email: 'marker@example.com' });
      expect((await store.setLine(cart.id, 'SKU-A', 0))?.recoveryKick).toBeUndefined();
      const first = await store.setLine(cart.id, 'SKU-A', 1);
      expect(first?.recoveryKick).toBe(true);
      expect((await store.setLine(cart.id, 'SKU-A', 2))?.recoveryKick).toBeUndefined();
      // the run handles reminder 1 of version 2 only: the cart is at 3 by now
      expect(await store.markRecovery(cart.id, 'later', 2)).toMatchObject({ stale: true, version: 3 });
      expect(await markerOf(cart.id)).toBe('open');
      expect(await store.markRecovery(cart.id, 'later', 3)).toMatchObject({ stale: false, version: 3 });
      expect(await markerOf(cart.id)).toBe('later');
      expect((await store.setLine(cart.id, 'SKU-A', 3))?.recoveryKick).toBe(true);
      expect((await store.setLine(cart.id, 'SKU-A', 4))?.recoveryKick).toBeUndefined();
      expect((await store.get(cart.id))?.version).toBe(5); // the marker steps never make a version
    });

    it('a run ends: the marker goes, unless the cart moved on (the run carries on); an address not to mail stays off until the cart is emptied', async () => {
      const cart = await store.create({ currency: 'USD', email: 'ends@example.com' });
      await store.setLine(cart.id, 'SKU-A', 1); // version 2, open
      await store.setLine(cart.id, 'SKU-A', 2); // version 3
      expect(await store.markRecovery(cart.id, 'end', 2)).toMatchObject({ stale: true, version: 3 });
      expect(await markerOf(cart.id)).toBe('open');
      expect(await store.markRecovery(cart.id, 'end', 3)).toMatchObject({ stale: false });
      expect(await markerOf(cart.id)).toBeUndefined();
      expect((await store.setLine(cart.id, 'SKU-B', 1))?.recoveryKick).toBe(true); // version 4: a new run

      // emptied: the run ends whatever the version
      await store.setLine(cart.id, 'SKU-A', 0);
      await store.setLine(cart.id, 'SKU-B', 0); // version 6, no lines
      expect(await store.markRecovery(cart.id, 'end', 4)).toMatchObject({ stale: false, version: 6 });
      expect(await markerOf(cart.id)).toBeUndefined();

      // off: later writes start nothing; emptying (a write or a checkout's clear) lets a refill check again
      expect((await store.setLine(cart.id, 'SKU-A', 1))?.recoveryKick).toBe(true);
      await store.markRecovery(cart.id, 'off', 7);
      expect(await markerOf(cart.id)).toBe('off');
      expect((await store.setLine(cart.id, 'SKU-B', 1))?.recoveryKick).toBeUndefined();
      await store.clear(cart.id);
      expect(await markerOf(cart.id)).toBeUndefined();
      expect((await store.setLine(cart.id, 'SKU-A', 1))?.recoveryKick).toBe(true);
      expect(await store.markRecovery('cart_gone', 'end', 1)).toBeNull();
    });
  });

  it('a cart gone from Redis comes back from the Postgres backup', async () => {
    const cart = await store.create({ currency: 'USD' });
    const written = await store.setLine(cart.id, 'SKU-A', 4);
    await redis.del(cartKey(cart.id));
    expect((await store.get(cart.id))?.lines).toEqual(written?.lines);
    expect(await redis.exists(cartKey(cart.id))).toBe(1);
  });

  if (target === 'a Redis Cluster') {
    it('every command the store sends for one cart has its keys in that cart’s slot (CLUSTER KEYSLOT)', async () => {
      // A MONITOR on every master records what the store sends while a cart lives its whole life,
      // and what its scripts run inside Redis (source "lua"): both must stay in the cart's slot.
      const monitors = await Promise.all(dataNodes(redis).map((node) => new Redis({ host: node.options.host, port: node.options.port }).monitor()));
      const seen: string[][] = [];
      monitors.forEach((m) => m.on('monitor', (_time: string, args: string[]) => seen.push(args)));
      const id = randomCartId();
      const other = randomCartId();
      try {
        await redis.set(legacyCartKey(id), JSON.stringify({ id, currency: 'USD', lines: [], version: 1, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() }), 'EX', 600);
        await store.get(id); // moved from the legacy key
        await store.setLine(id, 'SKU-A', 1);
        await store.lock(id, 'co_x', Date.now() + 60_000);
        await store.unlock(id, 'co_x');
        await store.clear(id);
        await redis.del(cartKey(id));
        await store.setLine(id, 'SKU-B', 2); // restored from the backup, then written
        const fresh = await store.create({ currency: 'USD' });
        await store.setLine(fresh.id, 'SKU-C', 1);
        await store.get(other); // a miss everywhere
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        await Promise.all(monitors.map((m) => m.disconnect()));
      }

      const keyed = seen.filter(([cmd]) => ['eval', 'evalsha', 'get', 'set', 'del', 'exists'].includes((cmd ?? '').toLowerCase()));
      const scripts = keyed.filter(([cmd]) => /^eval/i.test(cmd ?? ''));
      expect(scripts.length).toBeGreaterThanOrEqual(6);
      const keysOf = (args: string[]) => (/^eval/i.test(args[0] ?? '') ? args.slice(3, 3 + Number(args[2])) : [args[1] as string]);
      const slotOf = async (k: string) => Number(await redis.cluster('KEYSLOT', k));
      for (const args of keyed) {
        const keys = keysOf(args);
        expect(keys.length).toBeGreaterThan(0);
        const slots = new Set(await Promise.all(keys.map(slotOf)));
        expect(slots.size).toBe(1);
        // every key is a cart key: the tagged one, or the legacy one read alone while moving
        for (const k of keys) expect(k).toMatch(/^cart:(\{cart_[\w-]+\}|cart_[\w-]+)$/);
      }
      // all of a cart's tagged keys share the slot of its hash tag
      const tagged = keyed.flatMap(keysOf).filter((k) => k.startsWith(`cart:{${id}}`));
      expect(tagged.length).toBeGreaterThan(0);
      for (const k of tagged) expect(await slotOf(k)).toBe(await slotOf(`{${id}}`));
    });
  }
});

describe('a cluster answers a cart write only once a replica has it', () => {
  it('WAIT follows each cart script on the node that ran it', async () => {
    const cluster = await clusterForTests();
    const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', REDIS_CLUSTER_NODES: cluster.nodes });
    const dbs = createDatabases(config);
    const redis = createRedis(config);
    try {
      const store = new CartStore(redis, dbs.cart, config.cart);
      const cart = await store.create({ currency: 'USD' });
      const slot = Number(await redis.cluster('KEYSLOT', cartKey(cart.id)));
      const owner = (await redis.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to);
      const [host, port] = owner?.[2] ?? [];
      const monitor = await new Redis({ host, port }).monitor();
      const seen: string[] = [];
      // commands a script runs show too, from source "lua": only the client's count here
      monitor.on('monitor', (_t: string, args: string[], source: string) => source !== 'lua' && seen.push((args[0] ?? '').toLowerCase()));
      await store.setLine(cart.id, 'SKU-A', 1);
      await new Promise((r) => setTimeout(r, 200));
      monitor.disconnect();
      const script = seen.findIndex((c) => c.startsWith('eval'));
      expect(script).toBeGreaterThanOrEqual(0);
      expect(seen[script + 1]).toBe('wait');
    } finally {
      redis.disconnect();
      await dbs.close();
      await cluster.release();
    }
  });
});
