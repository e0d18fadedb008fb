import { bundleWorkflowCode, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { createLogger } from '../logger';
import { connectTemporal } from '../temporal/client';
import { FAILURE_CONVERTER_PATH } from '../temporal/codec';
import { kickSearchSync } from '../temporal/search-sync';
import { ensureSchedules } from '../temporal/schedules';
import { traceRedis } from '../telemetry/traced';
import { startTracing } from '../telemetry/tracing';
import { buildActivityDeps } from './deps';
import { startHeartbeatFile } from './heartbeat';
import { bundleBuildId, deploymentOptions, promoteVersion } from './versioning';
import { createWorker, WORKFLOW_TRACING_MODULE, workerMetricsOptions } from './worker';

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

function quietBundler(logger: ReturnType<typeof createLogger>) {
  const none = () => undefined;
  return { log: none, trace: none, debug: none, info: none, warn: (m: string) => logger.warn(m), error: (m: string) => logger.error(m) };
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
    // Bundled here (not by Worker.create) so the build id can be the bundle's hash (tracing's workflow interceptors inside).
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      workflowInterceptorModules: tracing ? [WORKFLOW_TRACING_MODULE] : [],
      // failure messages encoded (then encrypted) in the sandbox too (temporal/failure-converter.ts)
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: quietBundler(logger),
    });
    const buildId = config.workerVersioning.buildId ?? bundleBuildId(code);
    const deployment = deploymentOptions(config, buildId);
    const worker = await createWorker({
      connection,
      config,
      deps: buildActivityDeps({ config, logger, dbs, redis, temporal: client }),
      shutdownGraceSeconds: config.worker.shutdownGraceSeconds,
      tracing,
      workflowBundle: { code },
      deployment,
    });
    logger.info({ taskQueue: config.temporal.taskQueue, version: deployment?.version ?? 'unversioned' }, 'worker started');
    const running = worker.run();
    const heartbeatFile = config.worker.heartbeatFile;
    const stopHeartbeat = heartbeatFile ? startHeartbeatFile(heartbeatFile, () => worker.getState() === 'RUNNING') : undefined;
    if (deployment) {
      // After run() started polling: the server registers a version when its pollers arrive.
      const stop = new AbortController();
      void running.finally(() => stop.abort());
      await promoteVersion(client, config, buildId, logger, { signal: stop.signal }).catch((err: unknown) =>
        logger.warn({ err: String(err), buildId }, 'could not make this version current; promote it with `temporal worker deployment set-current-version`'),
      );
    }
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
