import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { eq } from 'drizzle-orm';
import { checkouts, orderEvents, orders } from '../../db/schema/order';
import { payloadDataConverter } from '../../temporal/codec';
import { retryParkedOrder, cancelParkedOrder } from '../../usecases/support-actions';
import { createTestDeps, type TestDeps } from '../helpers/app';

/**
 * Review: retry/cancel became Temporal updates (440f472) and the API sends only updates. A
 * checkout parked on a build from before that change is PINNED to it (TEMPORAL_VERSIONING_BEHAVIOR
 * default) and has no update handler: the update is rejected ("no registered handler"), which
 * support-actions.ts's decide() maps to 409 order_not_parked — for an order that IS parked and
 * whose workflow still handles the old signals. Support can neither retry nor cancel it.
 */
describe('review: support retry/cancel of an order parked on an older worker build', () => {
  let deps: TestDeps;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `old-build-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    deps = await createTestDeps();
    connection = await NativeConnection.connect({ address: deps.config.temporal.address });
    worker = await Worker.create({
      connection,
      namespace: deps.config.temporal.namespace,
      taskQueue,
      workflowsPath: path.join(__dirname, 'fixtures/old-build-checkout.ts'),
      dataConverter: payloadDataConverter(deps.config.privacy.payloadKeys),
    });
    running = worker.run();
  }, 120_000);
  afterAll(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await deps?.close();
  });

  async function parkedOrderOnOldBuild(): Promise<{ orderId: string; workflowId: string }> {
    const id = randomBytes(8).toString('hex');
    const checkoutId = `chk_${id}`;
    const orderId = `ord_${id}`;
    const workflowId = `checkout-old-${id}`;
    const handle = await deps.temporal.workflow.start('checkoutWorkflow', { taskQueue, workflowId, args: [{ checkoutId }] });
    await deps.dbs.order.insert(checkouts).values({ checkoutId, cartId: `cart_${id}`, idempotencyKey: id, requestHash: id, email: 'old@example.com', status: 'placed', workflowId, runId: handle.firstExecutionRunId, orderId });
    await deps.dbs.order.insert(orders).values({ id: orderId, checkoutId, cartId: `cart_${id}`, email: 'old@example.com', status: 'needs_attention', currency: 'USD', totalAmount: 500 });
    return { orderId, workflowId };
  }

  it('retry reaches the parked workflow (not 409 order_not_parked)', async () => {
    const { orderId, workflowId } = await parkedOrderOnOldBuild();
    const result = await retryParkedOrder(deps, orderId, { actor: { id: 'sup_review', name: 'Reviewer' }, reason: 'card fixed' });
    expect(result).toEqual(expect.objectContaining({ kind: 'retrying' }));
    // the old build got its old signal, and the order's history records who asked and why
    expect(await deps.temporal.workflow.getHandle(workflowId).result()).toBe('retry');
    expect(await deps.dbs.order.select().from(orderEvents).where(eq(orderEvents.orderId, orderId))).toEqual([
      expect.objectContaining({ type: 'support_retry', reason: 'card fixed', actorId: 'sup_review', actorName: 'Reviewer' }),
    ]);
  }, 60_000);

  it('cancel reaches the parked workflow (not 409 order_not_parked)', async () => {
    const { orderId, workflowId } = await parkedOrderOnOldBuild();
    const result = await cancelParkedOrder(deps, orderId, { actor: { id: 'sup_review', name: 'Reviewer' }, reason: 'customer asked' });
    expect(result).toEqual(expect.objectContaining({ kind: 'cancelling' }));
    expect(await deps.temporal.workflow.getHandle(workflowId).result()).toBe('cancel');
    expect(await deps.dbs.order.select().from(orderEvents).where(eq(orderEvents.orderId, orderId))).toEqual([
      expect.objectContaining({ type: 'support_cancel', reason: 'customer asked', actorId: 'sup_review' }),
    ]);
  }, 60_000);

  it('a resumed run on the old build answers 409 order_not_parked (no second signal)', async () => {
    // the old build's run, once resumed, answers its status query with another step: refused before any send
    const { orderId, workflowId } = await parkedOrderOnOldBuild();
    expect(await retryParkedOrder(deps, orderId, { actor: { id: 'sup_review', name: 'Reviewer' } })).toMatchObject({ kind: 'retrying' });
    await deps.temporal.workflow.getHandle(workflowId).result();
    expect(await cancelParkedOrder(deps, orderId, { actor: { id: 'sup_review', name: 'Reviewer' }, reason: 'late' })).toMatchObject({ kind: 'rejected', code: 'order_not_parked' });
  }, 60_000);
});
