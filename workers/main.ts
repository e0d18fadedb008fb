import { Redis } from 'ioredis';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { createLogger } from '../logger';
import { connectTemporal } from '../temporal/client';
import { kickSearchSync } from '../temporal/search-sync';
import { ensureSchedules } from '../temporal/schedules';
import { buildActivityDeps } from './deps';
import { createWorker } from './worker';

/**
 * The worker process: runs every workflow and activity on the task queue and makes sure
 * the operations schedules exist. SIGINT/SIGTERM drain it (the SDK's runtime handles the
 * signals), then the store connections close.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'orderly-worker');
  const dbs = createDatabases(config);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const client = await connectTemporal(config);
  try {
    await ensureSchedules(client, config);
    // The search sync is long-running; make sure it is (its Schedule would within a minute).
    await kickSearchSync(client, config).catch((err: unknown) => logger.warn({ err }, 'could not start the search sync'));
    const worker = await createWorker({ connection, config, deps: buildActivityDeps({ config, logger, dbs, redis, temporal: client }) });
    logger.info({ taskQueue: config.temporal.taskQueue }, 'worker started');
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await client.connection.close();
    await connection.close();
    redis.disconnect();
    await dbs.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
