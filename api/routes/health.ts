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
export function healthRouter({ dbs, redis, temporal, search, breakers }: AppDeps): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    const [postgres, redisCheck, temporalCheck, searchCheck, breakerStates] = await Promise.all([
      check(() => dbs.ping()),
      check(() => redis.ping()),
      check(() => temporal.workflowService.getSystemInfo({})),
      search ? search.healthy().then((up) => (up ? 'ok' : 'down')) : Promise.resolve('down' as const),
      breakers ? breakers.states() : Promise.resolve([]),
    ]);
    // An open breaker is degraded, not down (issue 19): its fallback answers meanwhile.
    const circuits = Object.fromEntries(breakerStates.map(({ name, ...rest }) => [name, rest]));
    const breakerOpen = breakerStates.some((b) => b.state === 'open' || b.state === 'half_open');
    const checks = { postgres, redis: redisCheck, temporal: temporalCheck, search: searchCheck };
    // Search down is degraded, not down: /products answers from PostgreSQL meanwhile.
    const essential = postgres === 'ok' && redisCheck === 'ok' && temporalCheck === 'ok';
    const ok = essential && searchCheck === 'ok' && !breakerOpen;
    res.status(essential ? 200 : 503).json({
      status: ok ? 'ok' : 'degraded',
      checks,
      breakers: circuits,
      ...(searchCheck === 'ok' ? {} : { search: 'degraded: answering from PostgreSQL full-text search' }),
    });
  });
  return router;
}
