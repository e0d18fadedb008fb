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

/** Checks every backing service for real; 503 when one is down. */
export function healthRouter({ dbs, redis, temporal }: AppDeps): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    const [postgres, redisCheck, temporalCheck] = await Promise.all([
      check(() => dbs.ping()),
      check(() => redis.ping()),
      check(() => temporal.workflowService.getSystemInfo({})),
    ]);
    const checks = { postgres, redis: redisCheck, temporal: temporalCheck };
    const ok = Object.values(checks).every((c) => c === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', checks });
  });
  return router;
}
