import type { ChildProcess } from 'node:child_process';
import { eq, like } from 'drizzle-orm';
import { checkouts } from '../../db/schema/order';
import { localGatewayOperations } from '../../db/schema/payment';
import { releaseHold } from '../../db/stores/holds';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { unseenVoidWorkflowId } from '../../workflows/void-unseen-authorization';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { uniqueTaskQueue } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startWorkerProcess } from '../helpers/worker-process';


/**
 * Review r2c. The pre-answer steps are local activities recorded with their workflow task. A
 * worker dies after authorizePayment reached the gateway (authorized) and before the task
 * completed; the workers stay down longer than the stock hold's TTL and the sweep expires the
 * hold. The re-run repeats claim, freezeCart and holdStock from the start of the task: since
 * 5e24bba holdStock refuses an expired hold (hold_mismatch), which is thrown BEFORE
 * `saga.add('voidPayment')` — so the compensation judges "no money moved" from the run's memory
 * (checkout-local-refusal-compensation: local, no void) while the gateway holds a live
 * authorization under this checkout's authorize key. The customer is told "nothing was
 * charged"; the authorization stays until reconciliation (if scheduled) finds it.
 * (5fe1c8c made failOrder ask the store instead of the run's memory; the void is not asked.)
 */
describe('an authorization made in a lost workflow task, its hold expired before the re-run', () => {
  const workers: ChildProcess[] = [];
  let stack: Stack;
  const queue = uniqueTaskQueue('lost-auth-expired');

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '2000' } });
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
  });

  it('the compensation voids the authorization the gateway holds (it is not "no money moved")', async () => {
    const first = startWorkerProcess(queue, { FAULT_PAUSE_AFTER: 'authorizePayment', FAULT_PAUSE_MS: '5000' });
    workers.push(first);
    const sku = await createProduct(stack.dbs, { priceAmount: 1200, onHand: 3 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const placing = stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'lost-auth-expired' },
      body: { cartId, email: 'lost-auth@example.com', paymentToken: 'tok_visa' },
    });

    const auth = await eventually(
      async () => (await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/authorize`))).find((o) => o.reference && o.idempotencyKey.includes(cartId)),
      90_000,
      'the authorization at the gateway',
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(auth.outcome).not.toMatch(/decline/);
    const [row] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId));
    const checkoutId = row!.checkoutId;
    await placing;

    // the workers stay down past the hold's TTL: the sweep gives the stock back
    expect(await releaseHold(stack.dbs.inventory, checkoutId, 'expired')).toBeGreaterThan(0);
    workers.push(startWorkerProcess(queue));
    const result = await stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)).result();
    // the checkout closes once answered; the void runs in its own workflow, named for the checkout
    const voided = await stack.temporal.workflow.getHandle(unseenVoidWorkflowId(checkoutId)).result();
    const [after] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));

    const ops = (await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`))).map((o) => o.operation);
    console.log(JSON.stringify({ result, voided, recorded: after?.failure, ops }));
    expect(result.status).toBe('failed');
    // the authorization the lost task made is released, and the recorded failure (the notice's word) says so
    expect(ops).toContain('void');
    expect(voided).toMatchObject({ action: 'voided', amount: 1200, currency: 'USD' });
    expect(after?.status).toBe('failed');
    expect(after?.failure?.message).toMatch(/the authorization of 12\.00 USD was released/);
    await recordHistory(stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)), 'checkoutWorkflow', 'lost-authorize-expired-hold-voided');
    await recordHistory(stack.temporal.workflow.getHandle(unseenVoidWorkflowId(checkoutId)), 'voidUnseenAuthorizationWorkflow', 'lost-authorize-expired-hold-voided');
  }, 240_000);
});
