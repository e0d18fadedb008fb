import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Review: isRedisUnavailable (db/redis.ts) matches any error whose message starts with
 * "connect ECONNREFUSED", through `cause` — PostgreSQL's too (drizzle's "Failed query" wraps pg's
 * connect error), and gRPC's "Last error: connect ECONNREFUSED" from Temporal. api/errors.ts then
 * answers an order-database outage as a Redis one: a warn "redis unavailable", service_unavailable,
 * Retry-After 3 — never logged as the error it is. Checked in a process of its own: inside Jest,
 * Node's own errors come from another realm and fail `instanceof Error`, which hides this.
 */
describe('review: a PostgreSQL outage is not a Redis outage', () => {
  it('a refused PostgreSQL connection is not classified as Redis unavailable', () => {
    const root = path.resolve(__dirname, '../..');
    const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures/postgres-down-probe.ts')], { cwd: root, env: process.env, encoding: 'utf8', timeout: 30_000 });
    expect(JSON.parse(out)).toEqual({ failed: true, redisUnavailable: false });
  }, 40_000);
});
