import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createApp } from '../api/app';
import { createActivities } from '../activities';
import { DEFAULT_SOLD_OUT_CACHE_MS, loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { createLogger } from '../logger';
import { temporalClientOptions } from '../temporal/client';
import { payloadDataConverter } from '../temporal/codec';
import { buildActivityDeps } from '../workers/deps';
import { WORKER_TUNING } from '../workers/worker';
import { closeConnections } from './harness';

/** The answer a bench reads from the API: the fields the checkout benches look at. */
export type BenchAnswer = { status: number; body: { id?: string; error?: { details?: { checkoutId?: string } } } };
/** POST (or PUT for a cart line) a JSON body to the in-process API. */
export type Post = (path: string, body: unknown, headers?: Record<string, string>) => Promise<BenchAnswer>;

/**
 * The checkout benches' stack in one process, against the services in the environment: the API
 * on a free port and a worker (production tuning, plus the baselines' `noop` activity) on
 * `taskQueue`. `stop` closes everything it opened. With `worker: false` no worker runs here:
 * one in another process serves the queue (bench/worker-process.ts).
 * The sold-out readings keep production's bound (SOLD_OUT_CACHE_MS; test mode has none).
 */
export async function startInProcessStack(taskQueue: string, opts: { worker?: boolean } = {}) {
  const config = loadConfig({
    SOLD_OUT_CACHE_MS: String(DEFAULT_SOLD_OUT_CACHE_MS),
    ...process.env,
    ORDERLY_MODE: 'test',
    LOG_LEVEL: 'silent',
    TEMPORAL_TASK_QUEUE: taskQueue,
    CHECKOUT_WAIT_MS: '30000',
  });
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent');
  const dbs = createDatabases({ ...config, databasePoolSize: 40 });
  const redis = createRedis(config);
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const deps = buildActivityDeps({ config, logger, dbs, redis });
  const worker =
    opts.worker === false
      ? undefined
      : await Worker.create({
          dataConverter: payloadDataConverter(config.privacy.payloadKeys),
          connection: native,
          taskQueue,
          workflowsPath: require.resolve('./workflows'),
          activities: { ...createActivities(deps), noop: async () => undefined },
          ...WORKER_TUNING,
        });
  const running = worker?.run();
  const server = createApp({ config, logger, dbs, redis, temporal: client }).listen(0);
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post: Post = async (p, body, headers = {}) => {
    const res = await fetch(base + p, { method: p.includes('/lines/') ? 'PUT' : 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as BenchAnswer['body'] };
  };
  const stop = async () => {
    server.close();
    worker?.shutdown();
    await running;
    deps.mailer.close();
    await closeConnections({ native, client, redis, dbs });
  };
  return { config, dbs, redis, client, post, base, stop };
}
