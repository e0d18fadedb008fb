import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { Client, Pool } from 'pg';
import { loadConfig, type Config } from '../config';

export const MIGRATIONS_FOLDER = path.join(__dirname, 'migrations');

/** Any fixed number: the PostgreSQL advisory lock that serializes concurrent migration runs. */
const MIGRATION_LOCK = 721_604_311;

/**
 * Applies the committed migrations to every distinct database the contexts use. Runs started
 * at once (every new API pod's init container, deploy/k8s) take turns on an advisory lock:
 * the first applies, the others find nothing left to do.
 */
export async function runMigrations(config: Pick<Config, 'databaseUrls'>): Promise<void> {
  for (const url of new Set(Object.values(config.databaseUrls))) {
    const lock = new Client({ connectionString: url });
    await lock.connect();
    const pool = new Pool({ connectionString: url, max: 1 });
    try {
      await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await migrate(drizzle(pool), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await pool.end();
      await lock.end();
    }
  }
}

if (require.main === module) {
  runMigrations(loadConfig()).then(
    () => process.stdout.write('migrations applied\n'),
    (err: unknown) => {
      process.stderr.write(`migration failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
