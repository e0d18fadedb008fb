import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { temporal } from '@temporalio/proto';
import { uniqueTaskQueue } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startWorkerProcess } from '../helpers/worker-process';


const startVersionedWorker = (taskQueue: string, buildId: string, extraEnv: Record<string, string> = {}) =>
  startWorkerProcess(taskQueue, { ORDERLY_BUILD_ID: buildId, ...extraEnv });

async function until<T>(probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Worker Versioning: worker processes poll as <deployment>.<build id>', () => {
  let stack: Stack;
  const taskQueue = uniqueTaskQueue('versions');
  const workers: ChildProcess[] = [];
  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: taskQueue, CHECKOUT_WAIT_MS: '60000' } });
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
  });

  const deployment = () => stack.temporal.workflowService.describeWorkerDeployment({ namespace: 'default', deploymentName: taskQueue });
  const currentBuild = async () => (await deployment()).workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined;
  /** The identities (pid@host) of the workers that ran a workflow's tasks. */
  const workersOf = async (workflowId: string) => {
    const history = await stack.temporal.workflow.getHandle(workflowId).fetchHistory();
    const ids = (history.events ?? []).map((e) => e.workflowTaskCompletedEventAttributes?.identity ?? e.activityTaskStartedEventAttributes?.identity);
    return new Set(ids.filter((x): x is string => !!x));
  };
  const checkout = async (key: string) => {
    const sku = await createProduct(stack.dbs, { onHand: 5 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } });
    const placed = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body: { cartId, email: 'versions@example.com', paymentToken: 'tok_visa' } });
    expect(placed.status).toBe(201);
    return `checkout-${cartId}`;
  };

  it('the first build makes itself current; a checkout stays pinned to it while a new build is promoted; the next checkout runs on the new build', async () => {
    // build A pauses 6 s before the capture: the checkout is still running when B takes over
    const a = startVersionedWorker(taskQueue, 'build-a', { FAULT_PAUSE_BEFORE: 'captureAndFinishPaidCheckout', FAULT_PAUSE_MS: '6000' });
    workers.push(a);
    const first = await checkout('versions-1');
    expect(await until(currentBuild, 60_000)).toBe('build-a');
    const described = await stack.temporal.workflow.getHandle(first).describe();
    const versioning = described.raw.workflowExecutionInfo?.versioningInfo;
    expect(versioning?.behavior).toBe(temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED);
    expect(versioning?.deploymentVersion).toMatchObject({ deploymentName: taskQueue, buildId: 'build-a' });

    // build B starts beside it: the deployment already has a current version, so B waits
    const b = startVersionedWorker(taskQueue, 'build-b');
    workers.push(b);
    await until(async () => ((await deployment()).workerDeploymentInfo?.versionSummaries ?? []).some((v) => v.deploymentVersion?.buildId === 'build-b') || undefined, 60_000);
    expect(await currentBuild()).toBe('build-a');
    // the operator's step (`temporal worker deployment set-current-version`); the server refuses it
    // (FAILED_PRECONDITION) until build B polls every task queue build A does, so it is retried
    await until(
      () => stack.temporal.workflowService.setWorkerDeploymentCurrentVersion({ namespace: 'default', deploymentName: taskQueue, buildId: 'build-b', identity: 'test' }).then(() => true),
      60_000,
    );

    await stack.temporal.workflow.getHandle(first).result();
    const second = await checkout('versions-2');
    await stack.temporal.workflow.getHandle(second).result();

    const host = os.hostname();
    expect([...(await workersOf(first))]).toEqual([`${a.pid}@${host}`]);
    expect([...(await workersOf(second))]).toEqual([`${b.pid}@${host}`]);
  }, 180_000);
});
