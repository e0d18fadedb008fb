import type { ChildProcess } from 'node:child_process';
import { eq, like } from 'drizzle-orm';
import { holds } from '../../db/schema/inventory';
import { checkouts } from '../../db/schema/order';
import { localGatewayOperations } from '../../db/schema/payment';
import { holdStock } from '../../db/stores/holds';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { checkoutRunEnded, uniqueTaskQueue } from '../helpers/temporal';
import { startWorkerProcess } from '../helpers/worker-process';

/**
 * A checkout that passed the sold-out pre-check while a unit was left, then waited for its run
 * (queued behind other workflow tasks; here: no worker polls yet) while the last unit went to
 * another buyer. The request keeps looking at the stock: it is answered 409 out_of_stock without
 * waiting for its run, its row is fenced failed (only because no run had claimed it), its cart
 * is unlocked, and the run that starts later holds and charges nothing. A checkout whose run has
 * claimed it (and holds the last unit itself) is never refused by that look: its run decides.
 */
describe('POST /checkouts: sold out while the checkout waits for its run', () => {
  let stack: Stack;
  const workers: ChildProcess[] = [];
  const queue = uniqueTaskQueue('sold-out-watch');

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '20000' } });
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
  });

  async function cartWith(sku: string): Promise<string> {
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    return cartId;
  }

  it('the last unit goes to another buyer while no worker has run the checkout: 409 out_of_stock within a second, row failed, cart unlocked; the late run holds and charges nothing', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 1 });
    const cartId = await cartWith(sku);
    const request = { headers: { 'Idempotency-Key': 'watch-late-buyer' }, body: { cartId, email: 'late@example.com', paymentToken: 'tok_visa' } };
    const answering = stack.http('POST', '/checkouts', request);
    // the request is waiting (its run cannot start: nothing polls the queue); another buyer takes the last unit
    await new Promise((r) => setTimeout(r, 500));
    const sold = Date.now();
    expect((await holdStock(stack.dbs.inventory, 'another-buyer', [{ sku, quantity: 1 }], 600)).status).toBe('held');
    const answer = await answering;
    expect(Date.now() - sold).toBeLessThan(1_000);
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({ code: 'out_of_stock', details: { items: [{ sku, requested: 1, available: 0 }] } });
    const checkoutId = answer.body.error.details.checkoutId as string;
    const [row] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
    expect(row).toMatchObject({ status: 'failed', runId: null, failure: { code: 'out_of_stock' } });
    // the cart is the customer's again
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
    // the same request again answers the same
    const replay = await stack.http('POST', '/checkouts', request);
    expect(replay.status).toBe(409);
    expect(replay.body.error).toMatchObject({ code: 'out_of_stock', details: { checkoutId } });

    // The start had reached the server: its run, queued, was terminated by the API (it would
    // refuse the cart's next checkout as checkout_in_progress until its first workflow task).
    // A start that lands later still meets the failed row: a worker now runs it, and it stops.
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    const run = await handle.describe().catch(() => undefined);
    if (run) expect(run.status.name).not.toBe('RUNNING');
    workers.push(startWorkerProcess(queue));
    const result = await checkoutRunEnded(handle);
    if (result !== 'terminated') expect(result).toMatchObject({ status: 'failed', failure: { code: 'out_of_stock' } });
    expect(await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId))).toEqual([]);
    const ops = await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`));
    expect(ops).toEqual([]);
    const [after] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
    expect(after).toMatchObject({ status: 'failed', failure: { code: 'out_of_stock' } });
  }, 120_000);

  it('a run that claimed the checkout and holds the last unit itself is not refused by the look (the stock reads sold out): it is placed', async () => {
    // the stack's queue has a worker from the first test: this one pauses before authorizing, after its hold
    const pausing = uniqueTaskQueue('sold-out-watch-claimed');
    const slow = await startStack({ env: { TEMPORAL_TASK_QUEUE: pausing, CHECKOUT_WAIT_MS: '20000' } });
    try {
      workers.push(startWorkerProcess(pausing, { FAULT_PAUSE_BEFORE: 'authorizePayment', FAULT_PAUSE_MS: '2000' }));
      const sku = await createProduct(slow.dbs, { priceAmount: 900, onHand: 1 });
      const cartId = (await slow.http('POST', '/carts', { body: {} })).body.id as string;
      expect((await slow.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
      const answer = await slow.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'watch-own-hold' }, body: { cartId, email: 'own@example.com', paymentToken: 'tok_visa' } });
      // placed — or, on a loaded machine where the worker process starts slowly, still pending when the wait ends — never refused
      expect([201, 202]).toContain(answer.status);
      const checkoutId = answer.body.checkoutId as string;
      await eventually(async () => {
        const [row] = await slow.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
        return row?.status === 'placed' ? row : undefined;
      }, 30_000, 'the checkout placed');
    } finally {
      await slow.close();
    }
  }, 120_000);
});
