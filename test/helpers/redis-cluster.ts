import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = path.join(__dirname, '../../scripts/redis-cluster.sh');

export interface LocalRedisCluster {
  /** host:port,host:port,… for REDIS_CLUSTER_NODES */
  nodes: string;
  /** The PID of the redis-server on a port (from its pid file), to kill it like a crash would. */
  pidOf(port: number): number;
  stop(): Promise<void>;
}

/**
 * A 3-master, 3-replica Redis Cluster of the caller's own (scripts/redis-cluster.sh, a temp data
 * dir, the first free block of ports), stopped by its PIDs, never by name.
 */
export async function startRedisCluster(): Promise<LocalRedisCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderly-redis-cluster-'));
  const env = { ...process.env, REDIS_CLUSTER_DIR: dir, REDIS_CLUSTER_PORT: 'auto' };
  // If the test process dies first, its cluster must not outlive it.
  const stopOnExit = () => spawnSync('bash', [SCRIPT, 'stop'], { env, stdio: 'ignore' });
  process.once('exit', stopOnExit);
  try {
    await run('bash', [SCRIPT, 'start'], { env });
  } catch (err) {
    stopOnExit();
    throw err;
  }
  const { stdout } = await run('bash', [SCRIPT, 'nodes'], { env });
  return {
    nodes: stdout.trim(),
    pidOf: (port) => Number(fs.readFileSync(path.join(dir, `${port}.pid`), 'utf8').trim()),
    async stop() {
      await run('bash', [SCRIPT, 'stop'], { env });
      process.removeListener('exit', stopOnExit);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The cluster the cart suites run against: the one `npm test` started (TEST_REDIS_CLUSTER_NODES),
 * or, when a file runs on its own, one of its own. `release` stops only a cluster it started.
 */
export async function clusterForTests(): Promise<{ nodes: string; release(): Promise<void> }> {
  const shared = process.env.TEST_REDIS_CLUSTER_NODES;
  if (shared) return { nodes: shared, release: async () => undefined };
  const own = await startRedisCluster();
  return { nodes: own.nodes, release: () => own.stop() };
}

/** The Redis behind a cart suite: one node (REDIS_URL) or a cluster, as env overrides for startStack/loadConfig. */
export type RedisTarget = [name: string, connect: () => Promise<{ env: Record<string, string>; release(): Promise<void> }>];

export const redisTargets: RedisTarget[] = [
  ['one Redis node', async () => ({ env: { REDIS_CLUSTER_NODES: '' }, release: async () => undefined })],
  [
    'a Redis Cluster',
    async () => {
      const cluster = await clusterForTests();
      return { env: { REDIS_CLUSTER_NODES: cluster.nodes }, release: cluster.release };
    },
  ],
];
