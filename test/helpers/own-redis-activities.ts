import { randomBytes } from 'node:crypto';
import { createActivities, type ActivityDeps, type OrderlyActivities } from '../../activities';
import { loadConfig } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { createRedis, type RedisClient } from '../../db/redis';
import { createLogger } from '../../logger';
import { buildActivityDeps } from '../../workers/deps';
import { startRedisServer } from './redis-server';

export interface OwnRedisActivities {
  redis: Awaited<ReturnType<typeof startRedisServer>>;
  client: RedisClient;
  dbs: Databases;
  deps: ActivityDeps;
  activities: OrderlyActivities;
  close(): Promise<void>;
}

/**
 * The real activities on a Redis server of their own (stopped and started by the test, by PID)
 * and a breaker namespace of their own: for tests that take Redis away under a payment step.
 */
export async function activitiesOnOwnRedis(): Promise<OwnRedisActivities> {
  const redis = await startRedisServer();
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', REDIS_URL: redis.url, CIRCUIT_NAMESPACE: `t-${randomBytes(5).toString('hex')}` });
  const dbs = createDatabases(config);
  const client = createRedis(config, { maxRetriesPerRequest: 2 });
  client.on('error', () => undefined);
  const deps = buildActivityDeps({ config, logger: createLogger('silent'), dbs, redis: client });
  return {
    redis,
    client,
    dbs,
    deps,
    activities: createActivities(deps),
    async close() {
      deps.mailer.close();
      client.disconnect();
      await dbs.close();
      await redis.stop();
    },
  };
}
