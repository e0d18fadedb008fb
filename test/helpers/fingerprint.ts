import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { dataNodes, type RedisClient } from '../../db/redis';

/**
 * A hash of every row of every table of the application's schemas: equal before and
 * after a request means the request wrote nothing (inserts, updates and deletes alike).
 * Only meaningful on a database of the suite's own with nothing else writing.
 */
export async function databaseFingerprint(pool: Pool): Promise<string> {
  const { rows: tables } = await pool.query<{ name: string }>(
    `select format('%I.%I', table_schema, table_name) as name from information_schema.tables
      where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema', 'drizzle', 'public')
      order by 1`,
  );
  const parts = tables.map(({ name }) => `select '${name.replace(/'/g, "''")}' as t, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${name} x`);
  const { rows } = await pool.query<{ t: string; h: string }>(parts.join(' union all '));
  return rows.map((r) => `${r.t}:${r.h}`).sort().join(',');
}

/** A hash of every key and value of a Redis database (DUMP, so any type), for the same purpose. */
export async function redisFingerprint(redis: RedisClient): Promise<string> {
  const keys = (await Promise.all(dataNodes(redis).map((node) => node.keys('*')))).flat().sort();
  const dumps = await Promise.all(keys.map((k) => redis.dumpBuffer(k)));
  const hash = createHash('sha256');
  keys.forEach((k, i) => hash.update(k).update('\0').update(dumps[i] ?? Buffer.alloc(0)).update('\0'));
  return `${keys.length}:${hash.digest('hex')}`;
}
