import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { createApp } from '../../api/app';
import type { AppDeps } from '../../api/deps';
import { loadConfig } from '../../config';
import { createDatabases } from '../../db/client';
import { createRedis } from '../../db/redis';
import { createLogger } from '../../logger';
import { connectTemporal } from '../../temporal/client';

export { createProduct as createProductWithStock, uniqueSku } from './stack';

export interface TestDeps extends AppDeps {
  /** Closes what createTestDeps opened: the Temporal connection, Redis and the pools. */
  close(): Promise<void>;
}

/**
 * The app's dependencies against the services `npm test` started (scripts/test.sh exports
 * DATABASE_URL, REDIS_URL, TEMPORAL_ADDRESS…); `env` overrides single variables, e.g. a
 * REDIS_URL of a stopped server.
 */
export async function createTestDeps(env: Record<string, string> = {}): Promise<TestDeps> {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', SEARCH_INDEX: `t-${randomBytes(5).toString('hex')}`, ...env });
  const logger = createLogger('silent');
  const dbs = createDatabases(config);
  // Fail fast against a stopped Redis instead of queueing commands until it returns.
  const redis = createRedis(config, { maxRetriesPerRequest: 1, lazyConnect: false });
  redis.on('error', () => undefined);
  const temporal = await connectTemporal(config);
  return {
    config,
    logger,
    dbs,
    redis,
    temporal,
    async close() {
      await temporal.connection.close();
      redis.disconnect();
      await dbs.close();
    },
  };
}

/** The real Express app on port 0. `close` stops the server only, not the deps. */
export async function startTestApp(deps: AppDeps): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A local port nothing listens on (bound, then released), for "service is down" tests. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
