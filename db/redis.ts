import { Cluster, Redis } from 'ioredis';
import type { Config } from '../config';

/** One Redis node or a Redis Cluster: the commands a store uses are the same on both. */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** A command fails after this many reconnection attempts instead of queueing until Redis returns. */
  maxRetriesPerRequest?: number;
  lazyConnect?: boolean;
}

/**
 * The one place a Redis client is made (API, worker, benches, tests): an ioredis `Cluster`
 * when REDIS_CLUSTER_NODES is set, a single `Redis` at REDIS_URL otherwise. Any context may
 * use it; in a cluster its keys must keep the keys one script or transaction touches in one
 * slot (a hash tag, as the cart keys do).
 */
export function createRedis(config: Pick<Config, 'redisUrl' | 'redisCluster'>, options: RedisClientOptions = {}): RedisClient {
  const { maxRetriesPerRequest = 2, lazyConnect = false } = options;
  if (!config.redisCluster) return new Redis(config.redisUrl, { maxRetriesPerRequest, lazyConnect });
  return new Cluster(config.redisCluster.nodes, {
    lazyConnect,
    // Masters only: a replica may lag a write that was already answered.
    scaleReads: 'master',
    // While a replica takes over a dead master, retry rather than fail at once.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    maxRedirections: 32,
    slotsRefreshTimeout: 2_000,
    redisOptions: { maxRetriesPerRequest, connectTimeout: 2_000 },
  });
}

/** The nodes that hold data: every master of a cluster, or the one node. For tools and tests (FLUSHALL, KEYS). */
export function dataNodes(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}
