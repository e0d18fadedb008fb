import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { createLogger } from '../logger';
import { connectTemporal } from '../temporal/client';
import { kickSearchSync } from '../temporal/search-sync';
import { ensureSchedules } from '../temporal/schedules';
import { traceRedis } from '../telemetry/traced';
import { startTracing } from '../telemetry/tracing';
import { buildActivityDeps } from './deps';
import { startHeartbeatFile } from './heartbeat';
import { createWorker, workerMetricsOptions } from './worker';

/**
 * Temporal may be starting or restarting while the worker starts: wait for it with a capped
 * backoff (up to five minutes, then exit for the supervisor to restart) instead of dying at once.
 */
async function untilItAnswers<T>(what: string, logger: ReturnType<typeof createLogger>, call: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + 5 * 60_000;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await call();
    } catch (err) {
      if (Date.now() + delay > giveUpAt) throw err;
      logger.warn({ err: String(err), retryInMs: delay }, `${what} failed; retrying`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * The worker process: runs every workflow and activity on the task queue and makes sure
 * the operations schedules exist. SIGINT/SIGTERM drain it: the SDK's runtime turns the signal
 * into worker.shutdown(), polling stops, and in-flight activities get WORKER_SHUTDOWN_GRACE_SECONDS
 * to finish (test/api/worker-sigterm.test.ts); then the store connections close.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'orderly-worker');
  // The SDK's own metrics (schedule-to-start latency, slots, sticky cache, polls) on a
  // Prometheus endpoint of the Temporal runtime; installed before the first connection.
  if (config.telemetry.workerMetricsPort) {
    Runtime.install({ telemetryOptions: { metrics: workerMetricsOptions(config.telemetry.metricsHost, config.telemetry.workerMetricsPort) } });
    logger.info({ port: config.telemetry.workerMetricsPort }, 'worker metrics on /metrics');
  }
  const tracing = startTracing({ serviceName: 'orderly-worker', otlpEndpoint: config.telemetry.otlpEndpoint });
  const dbs = createDatabases(config);
  const redis = createRedis(config, { maxRetriesPerRequest: 3 });
  if (tracing) traceRedis(redis);
  const connection = await untilItAnswers('connecting to Temporal', logger, () => NativeConnection.connect({ address: config.temporal.address }));
  const client = await untilItAnswers('connecting the Temporal client', logger, () => connectTemporal(config));
  try {
    await untilItAnswers('creating the schedules', logger, () => ensureSchedules(client, config));
    // The search sync is long-running; make sure it is (its Schedule would within a minute).
    await kickSearchSync(client, config).catch((err: unknown) => logger.warn({ err }, 'could not start the search sync'));
    const worker = await createWorker({
      connection,
      config,
      deps: buildActivityDeps({ config, logger, dbs, redis, temporal: client }),
      shutdownGraceSeconds: config.worker.shutdownGraceSeconds,
      tracing,
    });
    logger.info({ taskQueue: config.temporal.taskQueue }, 'worker started');
    const running = worker.run();
    const heartbeatFile = config.worker.heartbeatFile;
    const stopHeartbeat = heartbeatFile ? startHeartbeatFile(heartbeatFile, () => worker.getState() === 'RUNNING') : undefined;
    try {
      await running;
    } finally {
      stopHeartbeat?.();
    }
    logger.info('worker stopped');
  } finally {
    await client.connection.close();
    await connection.close();
    redis.disconnect();
    await dbs.close();
    await tracing?.shutdown();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
