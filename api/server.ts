import type { Server } from 'node:http';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { createLogger } from '../logger';
import { settleRecoveryStarts } from '../temporal/cart-recovery';
import { connectTemporal } from '../temporal/client';
import { traceRedis } from '../telemetry/traced';
import { startTracing } from '../telemetry/tracing';
import { createApp } from './app';
import { createApiMetrics, serveMetrics } from './metrics';
import { answerUnparsableRequests } from './request-guards';

/** How long a stopping API waits for queued cart-recovery starts (within the 10 s it has to stop). */
const RECOVERY_STARTS_GRACE_MS = 5_000;

/** The API process: builds its dependencies once, listens, and shuts down cleanly. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'orderly-api');
  // Before the clients are built: they install their span wrappers only when tracing is on.
  const tracing = startTracing({ serviceName: 'orderly-api', otlpEndpoint: config.telemetry.otlpEndpoint });
  const dbs = createDatabases(config);
  const redis = createRedis(config, { maxRetriesPerRequest: 2 });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  if (tracing) traceRedis(redis);
  const temporal = await connectTemporal(config);
  const metrics = createApiMetrics(dbs, { processMetrics: true });
  const app = createApp({ config, logger, dbs, redis, temporal, metrics });
  const { apiMetricsPort, metricsHost } = config.telemetry;
  const metricsServer = apiMetricsPort === undefined ? undefined : await serveMetrics(metrics, apiMetricsPort, metricsHost);
  if (metricsServer) logger.info({ port: apiMetricsPort }, 'metrics on /metrics');

  const server: Server = app.listen(config.port, () => logger.info({ port: config.port }, 'api listening'));
  // Requests Node's HTTP parser refuses never reach the app: answer them in the error shape too.
  answerUnparsableRequests(server);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api stopping');
    metricsServer?.close();
    server.close(() => {
      // the cart-recovery starts the last requests queued after their answers go out first (bounded)
      void settleRecoveryStarts(temporal, RECOVERY_STARTS_GRACE_MS)
        .then((left) => {
          if (left > 0) logger.warn({ left }, 'cart recovery starts still queued at shutdown: later writes or the sweep will start them');
        })
        .then(() => Promise.allSettled([temporal.connection.close(), dbs.close(), redis.quit(), tracing?.shutdown()]))
        .then(() => process.exit(0));
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`api failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
