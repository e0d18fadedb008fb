import { Router } from 'express';
import type { AppDeps } from '../deps';

const TIMEOUT_MS = 2_000;

async function check(probe: () => Promise<unknown>): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** Checks every backing service for real; 503 when one the API cannot work without is down. */
export function healthRouter({ dbs, redis, temporal, search }: AppDeps): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    const [postgres, redisCheck, temporalCheck, searchCheck] = await Promise.all([
      check(() => dbs.ping()),
      check(() => redis.ping()),
      check(() => temporal.workflowService.getSystemInfo({})),
      search ? search.healthy().then((up) => (up ? 'ok' : 'down')) : Promise.resolve('down' as const),
    ]);
    const checks = { postgres, redis: redisCheck, temporal: temporalCheck, search: searchCheck };
    // Search down is degraded, not down: /products answers from PostgreSQL meanwhile.
    const essential = postgres === 'ok' && redisCheck === 'ok' && temporalCheck === 'ok';
    const ok = essential && searchCheck === 'ok';
    res.status(essential ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', checks, ...(searchCheck === 'ok' ? {} : { search: 'degraded: answering from PostgreSQL full-text search' }) });
  });
  return router;
}
