import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { Pool } from 'pg';
import type { BoundedContext, Config } from '../config';
import { traceQueries } from '../telemetry/traced';
import { tracingEnabled } from '../telemetry/tracing';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema>;
/** A database or an open transaction: stores accept either. */
export type DbOrTx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

export type Databases = Record<BoundedContext, Db> & {
  /** Runs `select 1` on every distinct database. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

/**
 * One drizzle handle per bounded context. Contexts that share a URL share a pool, so
 * the embedded default is one PostgreSQL; splitting a context out is a config change.
 */
export function createDatabases(config: Pick<Config, 'databaseUrls' | 'databasePoolSize'>): Databases {
  const pools = new Map<string, Pool>();
  const handles = new Map<string, Db>();
  const handleFor = (url: string): Db => {
    let db = handles.get(url);
    if (!db) {
      const pool = new Pool({ connectionString: url, max: config.databasePoolSize });
      // An idle client's error (e.g. the server restarted) must not crash the process.
      pool.on('error', () => undefined);
      if (tracingEnabled()) traceQueries(pool, new URL(url).pathname.slice(1));
      pools.set(url, pool);
      db = drizzle(pool, { schema });
      handles.set(url, db);
    }
    return db;
  };
  const contexts = Object.fromEntries(
    (Object.entries(config.databaseUrls) as [BoundedContext, string][]).map(([ctx, url]) => [ctx, handleFor(url)]),
  ) as Record<BoundedContext, Db>;
  return {
    ...contexts,
    async ping() {
      await Promise.all([...pools.values()].map((p) => p.query('select 1')));
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.end()));
    },
  };
}
