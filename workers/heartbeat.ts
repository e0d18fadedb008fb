import { rmSync, writeFileSync } from 'node:fs';

/**
 * The worker has no HTTP port; Kubernetes' exec liveness probe reads this file's age instead
 * (deploy/k8s/base/worker.yaml). It is written every `everyMs` while `alive()` says the worker
 * runs, so a blocked event loop or a worker that stopped polling lets it go stale. Removed on stop.
 */
export function startHeartbeatFile(file: string, alive: () => boolean, everyMs = 5_000): () => void {
  const beat = () => {
    if (alive()) writeFileSync(file, `${new Date().toISOString()}\n`);
  };
  beat();
  const timer = setInterval(beat, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    rmSync(file, { force: true });
  };
}
