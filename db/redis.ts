import { Cluster, Redis } from 'ioredis';
import type { Config } from '../config';

/** One Redis node or a Redis Cluster: the commands a store uses are the same on both. */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** A command fails after this many reconnection attempts instead of queueing until Redis returns. */
  maxRetriesPerRequest?: number;
  lazyConnect?: boolean;
}

/** The longest wait between reconnection attempts of a single-node client. */
const RECONNECT_CAP_MS = 250;

/**
 * The one place a Redis client is made (API, worker, benches, tests): an ioredis `Cluster`
 * when REDIS_CLUSTER_NODES is set, a single `Redis` at REDIS_URL otherwise. Any context may
 * use it; in a cluster its keys must keep the keys one script or transaction touches in one
 * slot (a hash tag, as the cart keys do).
 */
export function createRedis(config: Pick<Config, 'redisUrl' | 'redisCluster'>, options: RedisClientOptions = {}): RedisClient {
  const { maxRetriesPerRequest = 2, lazyConnect = false } = options;
  // Reconnects at most every 250 ms: a command queued while Redis is down fails after
  // maxRetriesPerRequest attempts, so a request meets a fast 503 (api/errors.ts), not a wait
  // that grows with the outage (ioredis's default backs off to 2 s per attempt).
  if (!config.redisCluster) return new Redis(config.redisUrl, { maxRetriesPerRequest, lazyConnect, retryStrategy: (times) => Math.min(times * 50, RECONNECT_CAP_MS) });
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

/**
 * ioredis errors that mean "Redis is not answering now" (down, failing over, loading), not "the
 * command is wrong". Only what ioredis itself throws (its error classes and its own messages) and
 * Redis's own reply prefixes: never a bare socket message (`connect ECONNREFUSED`, `read ECONNRESET`…),
 * which PostgreSQL's driver and Temporal's gRPC client throw too — their outage is a 500 that
 * alerts, not a 503 "Redis unavailable". (ioredis rejects a command with "Connection is closed."
 * or MaxRetriesPerRequestError when its socket fails; the socket error itself is only emitted.)
 */
const UNAVAILABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
/** ioredis's own messages (node_modules/ioredis/built/Redis.js, cluster/index.js). */
const IOREDIS_MESSAGES = [
  'Connection is closed',
  "Stream isn't writeable and enableOfflineQueue options is false",
  'Too many Cluster redirections',
  'Failed to refresh slots cache',
  'None of startup nodes is available',
  "Cluster isn't ready and enableOfflineQueue options is false",
  'Cluster is disconnected',
  'Cluster is disconnecting',
  'Node is disconnected',
  'Connection is aborted',
  'Connection is discarded because a new connection is made',
  'Command timed out',
];
/** Redis's replies while a node cannot serve (ReplyError), and a redirection still unfollowed after the slot map was read again (cart-scripts.ts followingMoves). */
const UNAVAILABLE_REPLIES = /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING|READONLY|NOREPLICAS|MOVED|ASK)\b/;

/**
 * Whether an error is Redis being unreachable or between masters (a node down, a failover,
 * a cluster without a majority): the API answers those `503 service_unavailable` with
 * Retry-After instead of a 500 (api/errors.ts). Looks through `cause` and Aggregate errors.
 */
export function isRedisUnavailable(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 3) return false;
  if (UNAVAILABLE_NAMES.has(err.name) || IOREDIS_MESSAGES.some((m) => err.message.startsWith(m)) || UNAVAILABLE_REPLIES.test(err.message)) return true;
  if (err instanceof AggregateError && err.errors.some((e) => isRedisUnavailable(e, depth + 1))) return true;
  return isRedisUnavailable(err.cause, depth + 1);
}

/** How long a client told "Redis is unavailable" should wait: a failover takes a few seconds. */
export const REDIS_RETRY_AFTER_SECONDS = 3;
