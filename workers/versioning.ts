import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import type { Config } from '../config';

/** A build id for a workflow bundle: it changes exactly when the workflow code does. */
export function bundleBuildId(code: string): string {
  return `wf-${createHash('sha256').update(code).digest('hex').slice(0, 16)}`;
}

/** The worker's deployment options, or undefined when versioning is off (an unversioned worker). */
export function deploymentOptions(config: Pick<Config, 'workerVersioning'>, buildId: string): WorkerDeploymentOptions | undefined {
  const v = config.workerVersioning;
  if (!v.enabled) return undefined;
  return {
    version: { deploymentName: v.deploymentName, buildId },
    useWorkerVersioning: true,
    defaultVersioningBehavior: v.defaultBehavior,
  };
}

type Logger = { info(o: object, msg: string): void; warn(o: object, msg: string): void };

/**
 * Makes this worker's version the deployment's Current Version when the policy asks for it:
 * `if-none` only when the deployment has none yet (the first deploy: otherwise no task would
 * ever reach a versioned worker), `always` on every start (dev). A later production version
 * is promoted by an operator: `temporal worker deployment set-current-version`.
 * The server knows a version only once its pollers reached it, so this retries for a while.
 */
export async function promoteVersion(
  client: Client,
  config: Pick<Config, 'temporal' | 'workerVersioning'>,
  buildId: string,
  logger: Logger,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<'current' | 'left'> {
  const { deploymentName, setCurrent } = config.workerVersioning;
  if (!config.workerVersioning.enabled || setCurrent === 'never') return 'left';
  const namespace = config.temporal.namespace;
  const service = client.workflowService;
  const giveUpAt = Date.now() + (opts.timeoutMs ?? 60_000);
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    if (opts.signal?.aborted) return 'left';
    try {
      const current = await service
        .describeWorkerDeployment({ namespace, deploymentName })
        .then((d) => d.workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined)
        .catch((err: unknown) => {
          if ((err as { code?: number }).code === 5) return undefined; // NOT_FOUND: no version polled yet
          throw err;
        });
      if (current === buildId) return 'current';
      if (current && setCurrent === 'if-none') {
        logger.info({ deploymentName, buildId, current }, 'the deployment has a current version: this one waits to be promoted');
        return 'left';
      }
      await service.setWorkerDeploymentCurrentVersion({ namespace, deploymentName, buildId, identity: `orderly-worker@${buildId}` });
      logger.info({ deploymentName, buildId, previous: current ?? null }, 'made this worker version current');
      return 'current';
    } catch (err) {
      if (Date.now() + delay > giveUpAt) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
