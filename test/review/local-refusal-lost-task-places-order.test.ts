import type { ChildProcess } from 'node:child_process';
import { eq, like, sql } from 'drizzle-orm';
import { stock } from '../../db/schema/inventory';
import { checkouts, orders } from '../../db/schema/order';
import { localGatewayOperations } from '../../db/schema/payment';
import { CartStore } from '../../db/stores/cart';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { uniqueTaskQueue } from '../helpers/temporal';
import { startCheckoutRun } from '../helpers/checkout-run';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startWorkerProcess } from '../helpers/worker-process';


/**
 * Review r2c. A flash-sale loser (the pre-check let it through, the hold refused) compensates
 * with LOCAL activities in the same workflow task that ran the hold (patch
 * checkout-local-refusal-compensation, final-first): failOrder, recordCheckoutFailure (row
 * failed, out_of_stock), releaseStock, unlockCart all commit before the task that holds the
 * hold's refusal is recorded. A worker that dies after them and before the task completes
 * leaves a history that does not know the hold was refused: the re-run repeats claim (same run:
 * goes on although the row is failed), freezeCart (frozen) and holdStock — which re-decides
 * from LIVE stock. A unit given back meanwhile (a winner whose card was declined: the usual
 * flash-sale churn) is held, and the run authorizes, places the order and captures on a
 * checkout the customer was already told failed with out_of_stock ("nothing was charged") and
 * whose cart was unlocked for edits.
 */
describe('a local refusal compensated in a workflow task the worker never completed', () => {
  const workers: ChildProcess[] = [];
  let stack: Stack;
  const queue = uniqueTaskQueue('local-refusal-lost');

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '2000' } });
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
  });

  it('the refusal the customer was told stands: no order, no capture after a re-run of the lost task', async () => {
    // (since patch checkout-refusal-settled-locally the compensation is one local activity,
    // settleRefusedCheckout, run in the task after the refusal's: the worker pauses after it)
    const first = startWorkerProcess(queue, { FAULT_PAUSE_AFTER: 'settleRefusedCheckout', FAULT_PAUSE_MS: '4000' });
    workers.push(first);
    const carts = new CartStore(stack.redis, stack.dbs.cart, stack.config.cart);
    const sku = await createProduct(stack.dbs, { priceAmount: 900, onHand: 1 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

    // another buyer's hold of the last unit, uncommitted while this checkout's run starts and
    // committed while its hold waits on the row: the hold refuses. (The checkout is started as
    // the API starts it but without the API's admission hold, which would refuse it before any
    // run: test/helpers/checkout-run.ts.)
    let placing: Promise<unknown> | undefined;
    await stack.dbs.inventory.transaction(async (tx) => {
      await tx.update(stock).set({ reserved: sql`${stock.reserved} + 1` }).where(eq(stock.sku, sku));
      placing = (await startCheckoutRun(stack, cartId, { key: 'local-refusal-lost', email: 'loser@example.com', waitMs: 2_000 })).answer.catch((e: unknown) => e);
      // the workflow's claim has run (the row has a run id): the hold is next and blocks on the row
      await eventually(async () => ((await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId)))[0]?.runId ? true : undefined), 60_000, 'the claim');
      await new Promise((r) => setTimeout(r, 700));
    });

    // the local compensation committed: the row is failed (out_of_stock) and the cart unlocked;
    // the worker sits after unlockCart, before the task completes: kill it
    const row = await eventually(async () => {
      const [r] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId));
      if (r?.status !== 'failed') return undefined;
      const cart = await carts.get(cartId);
      return cart && cart.checkoutId === undefined ? r : undefined;
    }, 60_000, 'the local compensation to commit');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(row.failure).toMatchObject({ code: 'out_of_stock' });
    // the customer is told out_of_stock (the status URL)
    const shown = await stack.http('GET', `/checkouts/${row.checkoutId}`);
    expect([shown.body.status, shown.body.failure?.code]).toEqual(['failed', 'out_of_stock']);
    // the other buyer's card is declined: the unit goes back
    await stack.dbs.inventory.update(stock).set({ reserved: sql`${stock.reserved} - 1` }).where(eq(stock.sku, sku));

    // a new worker re-runs the task the first one never completed
    workers.push(startWorkerProcess(queue));
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    const result = await handle.result();
    await placing;

    const [after] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, row.checkoutId));
    const placed = await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, row.checkoutId));
    const ops = (
      await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${row.checkoutId}/%`))
    ).map((o) => o.operation);
    // what happened, for the report
    console.log(JSON.stringify({ result, rowAfter: { status: after?.status, failure: after?.failure }, orders: placed.map((o) => o.status), ops }));
    // the customer was told "out_of_stock; nothing was charged": that must stay true
    expect(result).toMatchObject({ status: 'failed', failure: { code: 'out_of_stock' } });
    expect(placed.filter((o) => o.status !== 'failed')).toEqual([]);
    expect(ops).not.toContain('capture');
  }, 240_000);
});
