import type { ChildProcess } from 'node:child_process';
import { eq, sql } from 'drizzle-orm';
import { Client as PgClient } from 'pg';
import { WorkflowNotFoundError } from '@temporalio/client';
import { checkouts, orders } from '../../db/schema/order';
import { authorizationAttempts, payments } from '../../db/schema/payment';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { unseenVoidWorkflowId } from '../../workflows/void-unseen-authorization';
import { eventually } from '../helpers/eventually';
import { uniqueTaskQueue } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startWorkerProcess } from '../helpers/worker-process';

/**
 * Review r27a. A slow worker (A) is inside its local `createOrder` (authorized already: the attempt
 * mark stands) when it stops answering (here: SIGSTOP while its insert waits on a lock). Its workflow
 * task times out, a cancel arrives, worker B re-runs the task: claim → cancel → the refusal path
 * (patch checkout-refusal-settled-locally): timer, settleRefusedCheckout (failOrder finds no order
 * yet, the checkout row `failed`), fence finds the mark → unseen-void child voids the authorization.
 * The customer is answered "cancelled". Then A resumes: its createOrder commits — an order `placed`
 * and the checkout row flipped to `placed` with that order. Nothing fails it afterwards: the order
 * stands placed (unpaid, its stock released, its authorization voided) and a replay of the same POST
 * answers 201 placed, while the customer was told (and mailed) that the checkout was cancelled.
 */
describe('a stale createOrder landing after the local settle of a refused re-run', () => {
  const workers: ChildProcess[] = [];
  let stack: Stack;
  let locker: PgClient | undefined;
  const queue = uniqueTaskQueue('stale-create-order');

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '2000' } });
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) {
      if (w.exitCode === null && w.signalCode !== 'SIGKILL') {
        w.kill('SIGCONT');
        w.kill('SIGKILL');
      }
    }
    await locker?.end().catch(() => undefined);
    await stack?.close();
  });

  it('the customer told "cancelled" must not end with a placed order and a replay answering 201', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 900, onHand: 3 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

    // every insert into orders.orders waits (selects do not): worker A's createOrder will block in it
    locker = new PgClient({ connectionString: stack.config.databaseUrls.order });
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table orders.orders in share mode');

    const a = startWorkerProcess(queue);
    workers.push(a);
    const request = { headers: { 'Idempotency-Key': 'stale-create-order' }, body: { cartId, email: 'stale-order@example.com', paymentToken: 'tok_visa' } };
    const first = await stack.http('POST', '/checkouts', request);
    expect(first.status).toBe(202);
    const checkoutId = first.body.checkoutId as string;

    // A is inside createOrder, its insert waiting on the lock: A stops (a long GC pause, a frozen VM)
    await eventually(
      async () => {
        // (a fresh statement outside the locker's transaction: pg_stat_activity is snapshotted per transaction)
        const { rows } = await stack.dbs.order.execute(
          sql`select pid from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'insert into "orders"."orders"%'`,
        );
        return rows.length > 0 ? true : undefined;
      },
      120_000,
      'worker A blocked in createOrder',
    );
    a.kill('SIGSTOP');

    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    await handle.cancel();
    workers.push(startWorkerProcess(queue));

    // B re-runs the task after A's times out: the refusal is settled locally, the mark sends the void child
    expect(await handle.result()).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    // No money stays held, whichever way B went: the child voids A's authorization when B honours
    // the cancel before its own authorize step (the common case), the saga voids it when B
    // registered that step first, and when A had not authorized yet the fence leaves nothing to void.
    await stack.temporal.workflow
      .getHandle(unseenVoidWorkflowId(checkoutId))
      .result()
      .catch((err: unknown) => (err instanceof WorkflowNotFoundError ? undefined : Promise.reject(err)));
    const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    const [attempt] = await stack.dbs.payment.select().from(authorizationAttempts).where(eq(authorizationAttempts.checkoutId, checkoutId));
    expect(payment ? payment.status : `no payment, attempt ${attempt?.fate ?? 'none'}`).toMatch(/^(voided|no payment, attempt (abandoned|none))$/);
    const told = await stack.http('POST', '/checkouts', request);
    expect(told.body).toMatchObject({ error: { code: 'checkout_cancelled' } });
    const toldStatus = told.status;

    // A comes back: its createOrder goes on where it stopped
    await locker.query('commit');
    a.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, 8_000));

    const placed = await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId));
    const [row] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
    const replay = await stack.http('POST', '/checkouts', request);
    // what the customer was told must still hold
    expect({ orders: placed.map((o) => o.status), row: row?.status, replay: [replay.status, replay.body.error?.code ?? replay.body.status] }).toEqual({
      orders: placed.length === 0 ? [] : ['failed'],
      row: 'failed',
      replay: [toldStatus, 'checkout_cancelled'],
    });
  }, 420_000);
});
