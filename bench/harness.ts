import type { NativeConnection } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { RedisClient } from '../db/redis';
import type { Databases } from '../db/client';

/** What the benches share: percentiles, a closed-loop load at a concurrency, closing the connections. */

export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

export async function runLevel(concurrency: number, requests: number, one: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const t = performance.now();
        await one(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: requests / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

/** Closes what a bench opened, last opened first. */
export async function closeConnections(c: { native: NativeConnection; client: Client; redis: RedisClient; dbs: Databases }): Promise<void> {
  await c.native.close();
  await c.client.connection.close();
  c.redis.disconnect();
  await c.dbs.close();
}
