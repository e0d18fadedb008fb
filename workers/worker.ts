import { NativeConnection, Worker, type WorkerDeploymentOptions, type WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config';
import { createActivities, type ActivityDeps } from '../activities';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  config: Pick<Config, 'temporal'>;
  deps: ActivityDeps;
  taskQueue?: string;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled here. */
  workflowBundle?: { codePath: string } | { code: string };
  /** Worker Versioning (workers/versioning.ts); absent = an unversioned worker (the tests' in-process workers). */
  deployment?: WorkerDeploymentOptions;
  tuning?: Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentLocalActivityExecutions' | 'maxCachedWorkflows'>;
}

/**
 * Slots sized for I/O-bound work (docs/performance.md): a checkout's workflow task stays open
 * while its local activities wait on PostgreSQL and the gateway, so workflow-task slots (the
 * SDK's default is 40) were the queue at 50 concurrent checkouts.
 */
export const WORKER_TUNING = {
  maxConcurrentActivityTaskExecutions: 100,
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentLocalActivityExecutions: 200,
} satisfies Partial<WorkerOptions>;

/** One worker polls the task queue for every workflow and activity of the service. */
export function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.config.temporal.namespace,
    taskQueue: opts.taskQueue ?? opts.config.temporal.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities(opts.deps),
    ...WORKER_TUNING,
    ...opts.tuning,
    ...(opts.deployment ? { workerDeploymentOptions: opts.deployment } : {}),
  });
}
