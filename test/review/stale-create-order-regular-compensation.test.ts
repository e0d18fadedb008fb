import type { ChildProcess } from 'node:child_process';
import { eq, sql } from 'drizzle-orm';
import { Client as PgClient } from 'pg';
import { checkouts, orders } from '../../db/schema/order';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { uniqueTaskQueue } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { threeDSecureShop } from '../helpers/three-d-secure';
import { startWorkerProcess } from '../helpers/worker-process';

/**
 * Review r27c. r27a's fix (createOrder places a pending checkout only; the local settle marks the
 * row failed before it fails the order) covers the refusal settled by the local activity only.
 * The regular compensation path keeps the old order: `undo.failOrder` first, then
 * `undo.recordCheckoutFailure` (workflows/checkout.ts, finalFirst; and the saga path, whose
 * closeOrder runs before the void and the row is recorded after it). A stale worker's createOrder
 * (a lost workflow task's) that commits between the two finds the row still pending: it places
 * the order and flips the row to placed; failOrder has already looked (no order then); the row is
 * then recorded failed over it (orderId kept). The order stands `placed` — unpaid, its
 * authorization voided and its stock released — for a customer told "cancelled".
 *
 * Here: a 3-D Secure checkout; after the customer authenticated, worker A is inside its local
 * createOrder (waiting on a lock) and stops; a cancel arrives; worker B re-runs the task: the
 * cancel is honoured after keepStockHeld (the authorize step registered: the regular path);
 * B's failOrder is slow to return (FAULT_PAUSE_AFTER=failOrder) and A resumes meanwhile.
 */
describe('a stale createOrder landing between failOrder and recordCheckoutFailure of the regular compensation', () => {
  const workers: ChildProcess[] = [];
  let stack: Stack;
  let locker: PgClient | undefined;
  const queue = uniqueTaskQueue('stale-create-order-regular');
  const shop = threeDSecureShop(() => stack);

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '3000' } });
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

  it('the customer told "cancelled" must not end with a placed order', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 900, onHand: 3 });
    const cartId = await shop.cartWith(sku, 1);
    const a = startWorkerProcess(queue);
    workers.push(a);

    const first = await shop.checkout(cartId, 'stale-regular', 'stale-regular@example.com');
    expect(first.status).toBe(202);
    const checkoutId = first.body.checkoutId as string;
    const clientSecret = await eventually(
      async () => (await stack.http('GET', `/checkouts/${checkoutId}`)).body.nextAction?.clientSecret as string | undefined,
      60_000,
      'the 3-D Secure next action',
    );

    // every insert into orders.orders waits: A's createOrder (after the 3-D Secure step) blocks in it
    locker = new PgClient({ connectionString: stack.config.databaseUrls.order });
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table orders.orders in share mode');

    expect((await shop.authenticate(clientSecret, 'pass')).status).toBeLessThan(300);
    void shop.confirm(checkoutId).catch(() => undefined);

    await eventually(
      async () => {
        const { rows } = await stack.dbs.order.execute(
          sql`select pid from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'insert into "orders"."orders"%'`,
        );
        return rows.length > 0 ? true : undefined;
      },
      60_000,
      'worker A blocked in createOrder',
    );
    a.kill('SIGSTOP');

    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    await handle.cancel();
    workers.push(startWorkerProcess(queue, { FAULT_PAUSE_AFTER: 'failOrder', FAULT_PAUSE_MS: '7000' }));

    // B's failOrder has run (no order yet) and is slow to return: A resumes and its createOrder commits
    await eventually(
      async () => {
        const d = await handle.describe();
        return d.raw.pendingActivities?.some((p) => p.activityType?.name === 'failOrder') ? true : undefined;
      },
      90_000,
      'B inside failOrder',
    );
    await new Promise((r) => setTimeout(r, 500));
    await locker.query('commit');
    a.kill('SIGCONT');

    expect(await handle.result()).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    await new Promise((r) => setTimeout(r, 3_000));

    const placed = await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId));
    const [row] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
    const replay = await shop.checkout(cartId, 'stale-regular', 'stale-regular@example.com');
    expect({ orders: placed.map((o) => o.status), row: row?.status, replay: replay.body.error?.code ?? replay.body.status }).toEqual({
      orders: placed.length === 0 ? [] : ['failed'],
      row: 'failed',
      replay: 'checkout_cancelled',
    });
  }, 300_000);
});
