import type { ChildProcess } from 'node:child_process';
import { WorkflowNotFoundError } from '@temporalio/client';
import { eq, like } from 'drizzle-orm';
import { holds } from '../../db/schema/inventory';
import { checkouts, orders } from '../../db/schema/order';
import { localGatewayOperations } from '../../db/schema/payment';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { unseenVoidWorkflowId } from '../../workflows/void-unseen-authorization';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { uniqueTaskQueue } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startWorkerProcess } from '../helpers/worker-process';


/**
 * A worker dies after `createOrder` committed but before its workflow task completed: the
 * order exists in the store, the run's history does not know it (local steps are recorded with
 * the task). The re-run repeats the steps from the claim, and a cancel that arrived meanwhile
 * sends it to its compensation without `closeOrder` in the saga. The compensation asks the store
 * (failOrder closes an order if there is one) instead of trusting the run's memory: the order
 * must not stay `placed` beside a failed checkout, and nothing is captured.
 */
describe('a checkout whose createOrder committed in a workflow task the worker never completed', () => {
  const workers: ChildProcess[] = [];
  let stack: Stack;
  const queue = uniqueTaskQueue('lost-order-task');

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '2000' } });
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
  });

  it('cancelled before a new worker re-runs it: the order the lost task created ends failed, the checkout failed, nothing captured, its hold released and its authorization voided', async () => {
    const first = startWorkerProcess(queue, { FAULT_PAUSE_AFTER: 'createOrder', FAULT_PAUSE_MS: '120000' });
    workers.push(first);
    const sku = await createProduct(stack.dbs, { priceAmount: 800, onHand: 3 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const request = { headers: { 'Idempotency-Key': 'lost-order-task' }, body: { cartId, email: 'lost-task@example.com', paymentToken: 'tok_visa' } };
    const placing = stack.http('POST', '/checkouts', request);

    // createOrder committed (the order row exists) and the worker sits before its reply: kill it
    const order = await eventually(async () => (await stack.dbs.order.select().from(orders).where(eq(orders.cartId, cartId)))[0], 90_000, 'the order committed');
    expect(order.status).toBe('placed');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    await handle.cancel();
    workers.push(startWorkerProcess(queue));

    expect(await handle.result()).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    await placing;
    // The void runs in a workflow of its own, named for the checkout, when the lost task's
    // authorization is unknown to the run. On a loaded machine the first worker may heartbeat its
    // workflow task (at 80 % of the 10 s task timeout, while createOrder pauses) before the kill:
    // that records the steps up to the authorization, so the run knows it and voids it itself.
    const voidHandle = stack.temporal.workflow.getHandle(unseenVoidWorkflowId(order.checkoutId));
    const child = await voidHandle.describe().then(
      () => true,
      (e: unknown) => {
        if (e instanceof WorkflowNotFoundError) return false;
        throw e;
      },
    );
    if (child) {
      expect(await voidHandle.result()).toMatchObject({ action: 'voided', amount: 800, currency: 'USD' });
    } else {
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
      expect(scheduled).toContain('voidPayment');
    }
    const [after] = await stack.dbs.order.select().from(orders).where(eq(orders.id, order.id));
    expect(after?.status).toBe('failed');
    const [row] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, order.checkoutId));
    expect(row).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    const ops = (await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${order.checkoutId}/%`))).map(
      (o) => o.operation,
    );
    expect(ops).not.toContain('capture');
    // the lost task's hold and authorization are not in this run's saga: the compensation asks the
    // stores (checkout-void-unseen-authorization) and gives both back itself, not the sweep and reconciliation
    expect(ops).toContain('void');
    const held = await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, order.checkoutId));
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((h) => h.status === 'released')).toBe(true);
    expect(row?.failure).toMatchObject({ message: expect.stringMatching(/authorization of 8\.00 USD was released/) });
    if (child) await recordHistory(handle, 'checkoutWorkflow', 'lost-order-task-cancelled');
    if (child) await recordHistory(voidHandle, 'voidUnseenAuthorizationWorkflow', 'lost-order-task-cancelled');
  }, 240_000);
});
