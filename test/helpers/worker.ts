import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { LocalGateway } from '../../activities/gateways/local-gateway';
import { buildActivityDeps } from '../../workers/deps';
import { WORKER_TUNING } from '../../workers/worker';
import { payloadDataConverter } from '../../temporal/codec';
import { createLogger } from '../../logger';
import type { Stack } from './stack';
import { workflowBundle } from './temporal';

/** An in-process worker on a stack's task queue that a test can stop and start again. */
export interface RestartableWorker {
  /** The activities' dependencies: the same object across restarts (faults set on the gateway stay set). */
  deps: ActivityDeps;
  /** The local gateway, for `setFaults` (undefined with another gateway). */
  gateway?: LocalGateway;
  /** How many times the worker was restarted. */
  restarts: number;
  /** Shuts the running worker down (in-flight activities are cancelled after a short grace) and starts a new one. */
  restart(): Promise<void>;
  /** Stops the worker and closes what it opened (not the stack). */
  close(): Promise<void>;
}

/**
 * A worker for a stack started without one (`startStack({ worker: false })`), polling the
 * stack's task queue with the real activities. A restart shuts the worker down with a grace
 * of `graceMs` and starts a new one on the same queue: the in-process stand-in for a crash
 * (test/api/worker-crash.test.ts SIGKILLs a worker process instead).
 */
export async function startRestartableWorker(stack: Stack, opts: { graceMs?: number } = {}): Promise<RestartableWorker> {
  const logger = createLogger('silent');
  const connection = await NativeConnection.connect({ address: stack.config.temporal.address });
  const deps: ActivityDeps = { ...buildActivityDeps({ config: stack.config, logger, dbs: stack.dbs, redis: stack.redis, temporal: stack.temporal }), search: stack.search };
  let current: { worker: Worker; running: Promise<void> } | undefined;

  const start = async () => {
    const worker = await Worker.create({
      connection,
      namespace: stack.config.temporal.namespace,
      taskQueue: stack.config.temporal.taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities(deps),
      dataConverter: payloadDataConverter(stack.config.privacy.payloadKeys),
      ...WORKER_TUNING,
      shutdownGraceTime: `${opts.graceMs ?? 200}ms`,
    });
    current = { worker, running: worker.run().catch(() => undefined) };
  };
  const stop = async () => {
    const c = current;
    current = undefined;
    if (!c) return;
    if (c.worker.getState() === 'RUNNING') c.worker.shutdown();
    await c.running;
  };

  await start();
  const handle: RestartableWorker = {
    deps,
    gateway: deps.gateway instanceof LocalGateway ? deps.gateway : undefined,
    restarts: 0,
    async restart() {
      await stop();
      await start();
      handle.restarts += 1;
    },
    async close() {
      await stop();
      deps.mailer.close();
      await connection.close();
    },
  };
  return handle;
}
