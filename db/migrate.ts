import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { Pool } from 'pg';
import { loadConfig, type Config } from '../config';

export const MIGRATIONS_FOLDER = path.join(__dirname, 'migrations');

/** Applies the committed migrations to every distinct database the contexts use. */
export async function runMigrations(config: Pick<Config, 'databaseUrls'>): Promise<void> {
  for (const url of new Set(Object.values(config.databaseUrls))) {
    const pool = new Pool({ connectionString: url, max: 1 });
    try {
      await migrate(drizzle(pool), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await pool.end();
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
