import type { ChildProcess } from 'node:child_process';
import { eq, like } from 'drizzle-orm';
import { Client as PgClient } from 'pg';
import { authorizationAttempts, localGatewayOperations } from '../../db/schema/payment';
import { releaseHold } from '../../db/stores/holds';
import { checkouts } from '../../db/schema/order';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { unseenVoidWorkflowId } from '../../workflows/void-unseen-authorization';
import { eventually } from '../helpers/eventually';
import { uniqueTaskQueue } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startWorkerProcess } from '../helpers/worker-process';


/**
 * Review r26a, against d4b706e/bed528c (patch checkout-void-unseen-authorization).
 *
 * The fix's claim: "either the authorization goes out and the compensation voids it, or it
 * never goes out". The fence only works while NO mark exists. Once the lost task wrote
 * `attempted`, its gateway call is in flight (a Stripe request sent by a worker that then
 * dies, or a stalled worker): the compensation reads `attempted`, finds no payment row, no
 * noted ref, and asks the gateway (findAuthorization) BEFORE the in-flight call has landed →
 * `none` → "nothing was charged". The call then lands: a live authorization under the
 * checkout's authorize key, no order, never voided by the compensation (the mark says
 * `attempted`, which no one re-checks). Here the gateway call is held in flight by a lock on
 * the local gateway's ledger (its INSERT waits; reads go on), the worker is killed while it
 * waits, and the insert commits after the re-run compensated.
 */
describe('an authorization in flight when the compensation reads its attempt mark', () => {
  const workers: ChildProcess[] = [];
  let stack: Stack;
  let locker: PgClient | undefined;
  const queue = uniqueTaskQueue('attempted-in-flight');

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '2000' } });
  }, 120_000);
  afterAll(async () => {
    await locker?.query('rollback').catch(() => undefined);
    await locker?.end().catch(() => undefined);
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
  });

  it('the compensation voids it (or it never reaches the gateway)', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1500, onHand: 3 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

    // the gateway's side of the authorize call is held in flight: its insert waits, reads go on
    locker = new PgClient({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table local_gateway.operations in share row exclusive mode');

    const first = startWorkerProcess(queue);
    workers.push(first);
    const placing = stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'attempted-in-flight' },
      body: { cartId, email: 'in-flight@example.com', paymentToken: 'tok_visa' },
    });
    const mark = await eventually(
      async () => (await stack.dbs.payment.select().from(authorizationAttempts).where(like(authorizationAttempts.idempotencyKey, `%${cartId}%`)))[0],
      90_000,
      'the attempt mark',
    );
    expect(mark.fate).toBe('attempted');
    await new Promise((r) => setTimeout(r, 500));
    // the worker dies with its gateway call sent and unanswered
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    await placing;
    const checkoutId = mark.checkoutId;

    // workers down past the hold's TTL: the sweep gives the stock back; the re-run refuses at holdStock
    expect(await releaseHold(stack.dbs.inventory, checkoutId, 'expired')).toBeGreaterThan(0);
    workers.push(startWorkerProcess(queue));
    // (g2c) the customer's answer is final before the void decides (it no longer waits on the
    // payment store): the replayed request answers the failure.
    // The workflow itself stays open until its void has the gateway's answer for the key — here,
    // until the held call lands — so the call is let through once the answer is out, not once
    // the workflow closed (which now waits for it).
    const answer = await eventually(
      async () => {
        const r = await stack.http('POST', '/checkouts', {
          headers: { 'Idempotency-Key': 'attempted-in-flight' },
          body: { cartId, email: 'in-flight@example.com', paymentToken: 'tok_visa' },
        });
        return r.status >= 400 && r.status !== 409 ? r : undefined;
      },
      90_000,
      'the failure answered',
    );
    expect(answer.body.error?.code).toBe('checkout_failed');

    // the in-flight call lands at the gateway
    await locker.query('commit');
    const result = await stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)).result();
    expect(result.status).toBe('failed');
    // the checkout closed once answered; its void runs in a workflow of its own
    const voided = await stack.temporal.workflow.getHandle(unseenVoidWorkflowId(checkoutId)).result();
    expect(voided).toMatchObject({ action: 'voided', amount: 1500, currency: 'USD' });
    const [after] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
    const ops = await eventually(
      async () => {
        const rows = await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`));
        return rows.some((o) => o.operation === 'authorize') ? rows : undefined;
      },
      30_000,
      'the in-flight authorization',
    );
    const authorize = ops.find((o) => o.operation === 'authorize');
    console.log(JSON.stringify({ message: after?.failure?.message, ops: ops.map((o) => [o.operation, o.outcome]) }));
    expect(authorize?.outcome).toBe('authorized');
    // the money the gateway holds for a failed checkout must have been released by its compensation
    expect(ops.map((o) => o.operation)).toContain('void');
    // one authorization under the key (the re-send got the lost call's, or made it and the lost call got it back)
    expect(ops.filter((o) => o.operation === 'authorize')).toHaveLength(1);
    expect(after?.failure?.message).toMatch(/authorization of 15\.00 USD was released/);
  }, 240_000);
});
