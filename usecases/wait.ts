/**
 * Waits for `work` at most `ms`: its result, its failure, or `'timeout'` when the time is up.
 * A wait given up on (the storefront gets a 202) may still fail later: that is nobody's error.
 */
export function waitAtMost<T>(work: Promise<T>, ms: number): Promise<T | 'timeout'> {
  work.catch(() => undefined);
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
  return Promise.race([work, timer]);
}
