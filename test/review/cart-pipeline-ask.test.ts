import { Cluster, Redis } from 'ioredis';
import { runScript } from '../../db/stores/cart-scripts';
import { startRedisCluster, type LocalRedisCluster } from '../helpers/redis-cluster';

/**
 * Review: followingMoves (db/stores/cart-scripts.ts) resends a cart pipeline (script + WAIT)
 * after MOVED *or ASK* by refreshing the slot map. ASK is not a new owner: during a slot
 * migration the slot map still names the source, so every resend goes back to the source and
 * gets ASK again (the target only runs it after ASKING). Every cart write (replica acks are on in
 * cluster mode) to an already-migrated key fails — 503 for the whole resharding.
 */
describe('review: a cart pipeline during a slot migration (ASK)', () => {
  let cluster: LocalRedisCluster;
  let client: Cluster;
  const direct: Redis[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster();
    const nodes = cluster.nodes.split(',').map((n) => {
      const [host, port] = n.split(':');
      return { host: host as string, port: Number(port) };
    });
    client = new Cluster(nodes, { scaleReads: 'master', maxRedirections: 32 });
    await new Promise((resolve) => client.once('ready', resolve));
  }, 60_000);
  afterAll(async () => {
    for (const r of direct) r.disconnect();
    client?.disconnect();
    await cluster?.stop();
  });

  it('a script + WAIT pipeline on a migrated key is run once, not refused', async () => {
    const key = 'cart:{review-ask}';
    await client.set(key, '0');
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
    const masters = client.nodes('master');
    const ids = new Map<Redis, string>();
    for (const m of masters) ids.set(m, String(await m.call('CLUSTER', 'MYID')));
    let source: Redis | undefined;
    for (const m of masters) if (String(await m.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot))) !== '0') source = m;
    const target = masters.find((m) => m !== source) as Redis;
    expect(source).toBeDefined();
    const src = source as Redis;
    await target.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ids.get(src) as string);
    await src.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', ids.get(target) as string);
    await src.call('MIGRATE', target.options.host as string, String(target.options.port), key, '0', '5000');

    const script = `return redis.call('INCR', KEYS[1])`;
    const reply = await runScript(client, script, key, [], { replicas: 1, waitMs: 1000 }).catch((err: unknown) => String(err));
    expect(reply).toBe(1);
    expect(await target.get(key)).toBe('1');
  }, 60_000);
});
