import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { runMigrations } from '../../db/migrate';

/**
 * A freshly migrated database of the suite's own on the test PostgreSQL, for suites whose
 * assertions cover whole tables (the search outbox, every product's indexed version).
 */
export async function createTestDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(process.env.DATABASE_URL as string);
  const name = `orderly_${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: base.toString(), max: 1 });
  admin.on('error', () => undefined);
  await admin.query(`create database ${name}`);
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  const u = url.toString();
  await runMigrations({ databaseUrls: { catalog: u, inventory: u, cart: u, order: u, payment: u, notification: u, support: u, customer: u } });
  return {
    url: u,
    async drop() {
      await admin.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
      await admin.end();
    },
  };
}
