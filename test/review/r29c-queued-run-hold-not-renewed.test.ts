/**
 * Review r29c: a run that gets a worker late finds its admission hold still `held` but with its
 * deadline spent (or nearly), and goes on without renewing it: the sweep's next tick expires it
 * mid-payment, another customer buys the unit, and the run places the order, captures the
 * money, then fails to commit the stock (`out_of_stock` after the capture: parked). The customer
 * is charged for a unit sold to someone else.
 *
 * The admission hold's deadline counts from the request (usecases/admission-hold.ts). The r29b
 * fix re-judges a hold the sweep already *expired*; but the sweep runs every
 * HOLD_SWEEP_INTERVAL_SECONDS (5 min) and the TTL is 15 min, so a run taking a worker 14–20 min
 * after its admission finds its rows `held`. Its holdStock (activities/inventory.ts, no
 * `unclaimed`) is a plain repeat: db/stores/holds.ts returns the existing `expiresAt` and
 * writes nothing (only the API's `unclaimed` repeat renews the deadline). No step of the
 * regular (non 3-D Secure) path keeps the hold before createOrder/capture. Before the admission
 * hold, the run's own hold was taken at the run's start with a full TTL.
 *
 * Fault model: no worker while the request waits (202); the hold's deadline passes (moved into
 * the past: its 15 minutes) before the sweep's next tick; then a worker takes the run. The
 * sweep's tick lands while the run authorizes (the authorize call is held by the test until
 * then), and another customer checks out the last unit.
 */
import { Worker } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import { eq, sql } from 'drizzle-orm';
import { createActivities, type ActivityDeps } from '../../activities';
import { holds, stock } from '../../db/schema/inventory';
import { orders } from '../../db/schema/order';
import { payments } from '../../db/schema/payment';
import { getCheckout } from '../../db/stores/checkouts';
import { releaseExpiredHolds } from '../../db/stores/holds';
import { createLogger } from '../../logger';
import { payloadDataConverter } from '../../temporal/codec';
import { buildActivityDeps } from '../../workers/deps';
import { WORKER_TUNING } from '../../workers/worker';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { workflowBundle } from '../helpers/temporal';

jest.setTimeout(120_000);

let stack: Stack;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let connection: NativeConnection | undefined;
let deps: ActivityDeps | undefined;

beforeAll(async () => {
  stack = await startStack({ worker: false, env: { CHECKOUT_WAIT_MS: '1000' } });
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  deps?.mailer.close();
  await connection?.close();
  await stack?.close();
});

async function newCart(sku: string): Promise<string> {
  const cart = await stack.http('POST', '/carts', { body: {} });
  const cartId = cart.body.id as string;
  expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
  return cartId;
}

test('a run that takes its admission hold after its deadline passed (sweep not yet run) keeps it: no capture on a unit sold to another', async () => {
  const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 1 });
  const first = await newCart(sku);
  const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `k-${first}` }, body: { cartId: first, email: 'late@example.com', paymentToken: 'tok_visa' } });
  expect(res.status).toBe(202);
  const checkoutId = res.body.checkoutId as string;

  // the run waits for a worker past the hold's deadline; the sweep's next tick has not come yet
  await stack.dbs.inventory.update(holds).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(holds.holdId, checkoutId));
  expect((await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId))).map((h) => h.status)).toEqual(['held']);

  // a worker comes; its authorize call for this checkout waits until the test lets it go
  let reached!: () => void;
  const atAuthorize = new Promise<void>((r) => (reached = r));
  let go!: () => void;
  const released = new Promise<void>((r) => (go = r));
  connection = await NativeConnection.connect({ address: stack.config.temporal.address });
  deps = { ...buildActivityDeps({ config: stack.config, logger: createLogger('silent'), dbs: stack.dbs, redis: stack.redis, temporal: stack.temporal }), search: stack.search };
  const activities = createActivities(deps);
  const authorize = activities.authorizePayment;
  worker = await Worker.create({
    connection,
    namespace: stack.config.temporal.namespace,
    taskQueue: stack.config.temporal.taskQueue,
    workflowBundle: workflowBundle(),
    activities: {
      ...activities,
      authorizePayment: async (req: Parameters<typeof authorize>[0]) => {
        if (req.checkoutId === checkoutId) {
          reached();
          await released;
        }
        return authorize(req);
      },
    },
    dataConverter: payloadDataConverter(stack.config.privacy.payloadKeys),
    ...WORKER_TUNING,
    shutdownGraceTime: '200ms',
  });
  running = worker.run().catch(() => undefined);

  await atAuthorize;
  // the run passed holdStock: the sweep's tick (its hold is past its deadline) ...
  await releaseExpiredHolds(stack.dbs.inventory, 1_000);
  const afterSweep = (await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId))).map((h) => h.status);
  // ... and another customer checks out the last unit
  const second = await newCart(sku);
  const other = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `k-${second}` }, body: { cartId: second, email: 'other@example.com', paymentToken: 'tok_visa' } });
  go();

  let row = await getCheckout(stack.dbs.order, checkoutId);
  let order: { status: string } | undefined;
  for (const until = Date.now() + 40_000; Date.now() < until; ) {
    row = await getCheckout(stack.dbs.order, checkoutId);
    [order] = await stack.dbs.order.select({ status: orders.status }).from(orders).where(eq(orders.checkoutId, checkoutId));
    if (row?.status === 'failed' || (order && order.status !== 'placed')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
  const [payment] = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
  expect({
    firstCaptured: payment?.capturedAmount,
    holdAfterSweep: afterSweep,
    otherCustomer: other.status,
    firstCheckout: row?.status,
    firstOrder: order?.status,
    sold: level?.sold,
  }).toEqual({
    // the run's hold stands while it pays: the sweep leaves it, the other customer is refused
    firstCaptured: 1000,
    holdAfterSweep: ['held'],
    otherCustomer: 409,
    firstCheckout: 'placed',
    firstOrder: 'paid',
    sold: 1,
  });
});
