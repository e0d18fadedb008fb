import { NativeConnection, Worker, type WorkerDeploymentOptions, type WorkerOptions } from '@temporalio/worker';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { Config } from '../config';
import { createActivities, type ActivityDeps } from '../activities';
import type { Tracing } from '../telemetry/tracing';
import { payloadDataConverter } from '../temporal/codec';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  config: Pick<Config, 'temporal' | 'privacy'>;
  deps: ActivityDeps;
  taskQueue?: string;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled here. */
  workflowBundle?: { codePath: string } | { code: string };
  /** Worker Versioning (workers/versioning.ts); absent = an unversioned worker (the tests' in-process workers). */
  deployment?: WorkerDeploymentOptions;
  tuning?: Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentLocalActivityExecutions' | 'maxCachedWorkflows'>;
  /** On shutdown (SIGTERM), how long in-flight activities may finish before they are cancelled (SDK default: 0). */
  shutdownGraceSeconds?: number;
  /** With tracing on: workflow and activity spans (a pre-built bundle must include WORKFLOW_TRACING_MODULE). */
  tracing?: Tracing;
}

/** The workflow-side OpenTelemetry interceptors (a module of the workflow bundle). */
export const WORKFLOW_TRACING_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

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

/**
 * Workflow spans are made in the sandbox and handed to the process's span processor by a
 * sink; activity spans continue the context the workflow put in the activity's headers.
 * Headers are not part of replay, so a history recorded with tracing off replays with it on.
 */
export function tracingWorkerOptions(tracing: Tracing): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    interceptors: {
      workflowModules: [WORKFLOW_TRACING_MODULE],
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}

/** One worker polls the task queue for every workflow and activity of the service. */
export function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.config.temporal.namespace,
    taskQueue: opts.taskQueue ?? opts.config.temporal.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities(opts.deps),
    // Payloads are ciphertext in history (temporal/codec.ts); plain ones (older histories) still decode.
    dataConverter: payloadDataConverter(opts.config.privacy.payloadKeys),
    ...WORKER_TUNING,
    ...opts.tuning,
    ...(opts.shutdownGraceSeconds !== undefined ? { shutdownGraceTime: `${opts.shutdownGraceSeconds}s` } : {}),
    ...(opts.tracing ? tracingWorkerOptions(opts.tracing) : {}),
    ...(opts.deployment ? { workerDeploymentOptions: opts.deployment } : {}),
  });
}

/**
 * The Temporal runtime's Prometheus exporter: counters end in `_total` and durations are in
 * seconds, as Prometheus expects (deploy/monitoring/alerts.yml is written against these names).
 */
export function workerMetricsOptions(host: string, port: number) {
  return { prometheus: { bindAddress: `${host}:${port}`, countersTotalSuffix: true, useSecondsForDurations: true } };
}
