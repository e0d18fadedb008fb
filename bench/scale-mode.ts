/**
 * The sizes of `npm run bench:scale` (bench/scale.ts). SCALE=quick is a reduced run to check the
 * command works end to end (a few minutes); the default, full, is the one whose figures go in
 * docs/performance.md "Cost curves".
 */
export interface ScaleMode {
  name: 'full' | 'quick';
  /** Catalog sizes, ascending (each step loads the difference and reindexes). */
  searchSizes: number[];
  searches: number;
  searchConcurrency: number;
  syncUpdates: number;
  syncConcurrency: number;
  /** Carts written to a Redis of the bench's own before the cart operations are measured again. */
  carts: number;
  /** Recovery workflows started directly (the cost per 100k carts is extrapolated linearly from it). */
  recoveryWorkflows: number;
  checkoutRequests: number;
  checkoutConcurrency: number;
}

export const SCALE_MODES: Record<ScaleMode['name'], ScaleMode> = {
  full: {
    name: 'full',
    searchSizes: [1_000, 10_000, 100_000],
    searches: 400,
    searchConcurrency: 4,
    syncUpdates: 60,
    syncConcurrency: 4,
    carts: 1_000_000,
    recoveryWorkflows: 10_000,
    checkoutRequests: 200,
    checkoutConcurrency: 50,
  },
  quick: {
    name: 'quick',
    searchSizes: [1_000, 10_000],
    searches: 120,
    searchConcurrency: 4,
    syncUpdates: 20,
    syncConcurrency: 4,
    carts: 100_000,
    recoveryWorkflows: 1_000,
    checkoutRequests: 60,
    checkoutConcurrency: 20,
  },
};

export function scaleMode(env: NodeJS.ProcessEnv = process.env): ScaleMode {
  const name = env.SCALE ?? 'full';
  if (name !== 'full' && name !== 'quick') throw new Error(`SCALE must be full or quick, not ${name}`);
  return SCALE_MODES[name];
}
