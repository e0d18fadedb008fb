import { Cluster, Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../config';
import { createRedis } from '../../db/redis';

const base = { ORDERLY_MODE: 'test', LOG_LEVEL: 'silent' } as const;

describe('config: one Redis or a Redis Cluster', () => {
  it('without REDIS_CLUSTER_NODES (or with it empty) carts use the one Redis at REDIS_URL and wait for no replica', () => {
    for (const env of [base, { ...base, REDIS_CLUSTER_NODES: '' }]) {
      const config = loadConfig(env);
      expect(config.redisCluster).toBeUndefined();
      expect(config.cart.replicaAcks).toBe(0);
      const client = createRedis(config, { lazyConnect: true });
      expect(client).toBeInstanceOf(Redis);
      client.disconnect();
    }
  });

  it('REDIS_CLUSTER_NODES gives the seed nodes, an ioredis Cluster, and writes that wait for one replica', () => {
    const config = loadConfig({ ...base, REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b.internal:7001,' });
    expect(config.redisCluster).toEqual({ nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-b.internal', port: 7001 }] });
    expect(config.cart).toMatchObject({ replicaAcks: 1, replicaWaitMs: 250 });
    const client = createRedis(config, { lazyConnect: true });
    expect(client).toBeInstanceOf(Cluster);
    client.disconnect();
    expect(loadConfig({ ...base, REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_CLUSTER_WAIT_REPLICAS: '0' }).cart.replicaAcks).toBe(0);
  });

  it.each(['10.0.0.1', '10.0.0.1:0', '10.0.0.1:99999', 'redis://10.0.0.1:7000', '10.0.0.1:7000;10.0.0.2:7000'])('a malformed REDIS_CLUSTER_NODES (%s) is refused at start-up', (nodes) => {
    expect(() => loadConfig({ ...base, REDIS_CLUSTER_NODES: nodes })).toThrow(ConfigError);
  });
});
