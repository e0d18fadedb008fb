import { eq } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { createRedis, type RedisClient } from '../../db/redis';
import { carts } from '../../db/schema/cart';
import { CartStore, cartKey, type StoredCart } from '../../db/stores/cart';
import { followingMoves } from '../../db/stores/cart-scripts';
import { startRedisCluster, type LocalRedisCluster } from '../helpers/redis-cluster';

/** CRC16/XMODEM, the Redis Cluster key hash: which slot a key lives in (its {hash tag} only). */
function slotOf(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** A cart id whose key falls in `slot`. */
function cartIdInSlot(slot: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const id = `cart_${prefix}${i.toString(36)}`;
    if (slotOf(cartKey(id)) === slot) return id;
  }
}

/**
 * Resharding on a real local Redis Cluster (scripts/redis-cluster.sh, a cluster of this suite's
 * own): one cart's slot is put into MIGRATING / IMPORTING state with CLUSTER SETSLOT and its keys
 * are moved with MIGRATE while cart writes run. A cart whose key already moved is answered ASK by
 * the old node: the write goes to the new node after ASKING (before: 503 until the migration
 * ended). Each write ran exactly once: every cart's version counts its writes, none lost, none
 * doubled.
 */
describe('cart writes and reads while a cart slot is resharded (Redis Cluster ASK / MOVED)', () => {
  let cluster: LocalRedisCluster;
  let config: Config;
  let dbs: Databases;
  let redis: RedisClient;
  let store: CartStore;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', REDIS_CLUSTER_NODES: cluster.nodes });
    dbs = createDatabases(config);
    redis = createRedis(config);
    store = new CartStore(redis, dbs.cart, config.cart);
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await dbs?.close();
    await cluster?.stop();
  });

  const masters = () => (redis as Exclude<RedisClient, Redis>).nodes('master');
  const address = (n: Redis) => `${n.options.host}:${n.options.port}`;
  const idOf = async (n: Redis) => (await n.call('CLUSTER', 'MYID')) as string;
  /** The master serving `slot` now, by asking a node (not the client's cached map). */
  const ownerOf = async (slot: number): Promise<Redis> => {
    const ranges = (await (masters()[0] as Redis).call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    const node = masters().find((n) => range && address(n) === `${range[2][0]}:${range[2][1]}`);
    if (!node) throw new Error(`no master serves slot ${slot}`);
    return node;
  };
  /** The keys of `slot` a node holds itself (EXISTS would answer ASK / MOVED instead). */
  const keysOn = async (n: Redis, slot: number) => ((await n.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[]).sort();
  const backupVersion = async (id: string) => (await dbs.cart.select().from(carts).where(eq(carts.id, id)))[0]?.version;

  it('writes and reads succeed before, during and after the migration, with no lost or doubled write', async () => {
    const moved = await store.create({ currency: 'USD' });
    const slot = slotOf(cartKey(moved.id));
    // a second cart in the same slot, still on the old node while the first one has moved
    const stayingId = cartIdInSlot(slot, 'staying');
    const newId = cartIdInSlot(slot, 'new');
    const now = new Date().toISOString();
    const staying: StoredCart = { id: stayingId, currency: 'USD', lines: [], version: 1, createdAt: now, updatedAt: now };
    await redis.set(cartKey(stayingId), JSON.stringify(staying), 'EX', 600);

    const source = await ownerOf(slot);
    const target = masters().find((n) => n !== source) as Redis;
    const [sourceId, targetId] = await Promise.all([idOf(source), idOf(target)]);
    // the migration starts: the new node imports the slot, the old one migrates it
    await target.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId);
    await source.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);

    // writers keep changing both carts while their keys move
    const written = new Map<string, number>([
      [moved.id, 0],
      [stayingId, 0],
    ]);
    const failures: unknown[] = [];
    let writing = true;
    const writer = async (id: string, sku: string) => {
      for (let q = 1; writing; q++) {
        try {
          const cart = await store.setLine(id, sku, (q % 9) + 1);
          if (cart) written.set(id, (written.get(id) ?? 0) + 1);
        } catch (err) {
          failures.push(err);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const writers = [writer(moved.id, 'SKU-A'), writer(moved.id, 'SKU-B'), writer(stayingId, 'SKU-C')];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      await sleep(300);

      // the first cart's key moves: the old node now answers ASK for it
      const [host, port] = address(target).split(':') as [string, string];
      expect(await source.call('MIGRATE', host, port, cartKey(moved.id), '0', '5000')).toBe('OK');
      expect(await keysOn(source, slot)).toEqual([cartKey(stayingId)]);
      const beforeAsk = written.get(moved.id) ?? 0;
      await sleep(500);
      // written through ASK, and read back (a single GET follows ASK by itself)
      expect(written.get(moved.id) ?? 0).toBeGreaterThan(beforeAsk);
      expect((await store.get(moved.id))?.lines.map((l) => l.sku).sort()).toEqual(['SKU-A', 'SKU-B']);
      // a brand-new key of the migrating slot (as CartStore.create writes one: SET NX + WAIT in a pipeline) lands on the new node
      await followingMoves(redis, async (pipeline) => {
        const replies = (await pipeline().set(cartKey(newId), JSON.stringify({ ...staying, id: newId }), 'EX', 600, 'NX').wait(1, 1000).exec()) ?? [];
        const [err] = replies[replies.length - 2] ?? [null];
        if (err) throw err;
      });
      expect(await keysOn(target, slot)).toEqual([cartKey(moved.id), cartKey(newId)].sort());
      expect(await keysOn(source, slot)).toEqual([cartKey(stayingId)]);
      expect((await store.get(stayingId))?.lines).toHaveLength(1);

      // the second cart moves too, then the migration ends: the slot is the new node's, everywhere
      expect(await source.call('MIGRATE', host, port, cartKey(stayingId), '0', '5000')).toBe('OK');
      await sleep(300);
      await target.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
      await source.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
      for (const n of masters()) if (n !== source && n !== target) await n.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
      await sleep(500);
    } finally {
      writing = false;
      await Promise.all(writers);
    }

    expect(failures.map(String)).toEqual([]);
    expect(await ownerOf(slot)).toBe(target);
    // after the migration: the old node answers MOVED, the client follows it
    const after = await store.setLine(moved.id, 'SKU-D', 1);
    written.set(moved.id, (written.get(moved.id) ?? 0) + 1);
    expect(after?.lines.map((l) => l.sku).sort()).toEqual(['SKU-A', 'SKU-B', 'SKU-D']);
    // every write ran exactly once: the version counts them (create or seed = 1)
    const finalMoved = await store.get(moved.id);
    const finalStaying = await store.get(stayingId);
    expect(finalMoved?.version).toBe(1 + (written.get(moved.id) ?? 0));
    expect(finalStaying?.version).toBe(1 + (written.get(stayingId) ?? 0));
    expect(await backupVersion(moved.id)).toBe(finalMoved?.version);
    expect(await keysOn(target, slot)).toEqual([cartKey(moved.id), cartKey(stayingId), cartKey(newId)].sort());
    expect(await keysOn(source, slot)).toEqual([]);
    expect(written.get(moved.id)).toBeGreaterThan(10);
  }, 90_000);
});
