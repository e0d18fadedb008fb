import type { ChildProcess } from 'node:child_process';
import { and, eq, inArray, like } from 'drizzle-orm';
import { stock } from '../../db/schema/inventory';
import { orders } from '../../db/schema/order';
import { localGatewayOperations } from '../../db/schema/payment';
import { checkoutStatusQuery } from '../../workflows/messages';
import { uniqueTaskQueue } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startWorkerProcess } from '../helpers/worker-process';


async function until<T>(probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a worker killed in the middle of a checkout', () => {
  let stack: Stack;
  const taskQueue = uniqueTaskQueue('crash');
  const workers: ChildProcess[] = [];
  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: taskQueue, CHECKOUT_WAIT_MS: '60000' } });
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
  });

  it('SIGKILL between order creation and capture: a new worker completes the checkout exactly once', async () => {
    workers.push(startWorkerProcess(taskQueue, { FAULT_PAUSE_BEFORE: 'captureAndFinishPaidCheckout', FAULT_PAUSE_MS: '120000' }));
    const sku = await createProduct(stack.dbs, { onHand: 4 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } });

    const placed = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'crash-1' },
      body: { cartId, email: 'crash@example.com', paymentToken: 'tok_visa' },
    });
    expect(placed.status).toBe(201);
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await until(async () => ((await handle.query(checkoutStatusQuery)).step === 'capturing_payment' ? true : undefined), 30_000);

    const first = workers[0] as ChildProcess;
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    workers.push(startWorkerProcess(taskQueue));

    await handle.result();
    const order = await stack.http('GET', `/orders/${placed.body.orderId}`);
    expect(order.body).toMatchObject({ status: 'paid', payment: { captured: { amount: 2000 } } });
    const ops = await stack.dbs.payment
      .select()
      .from(localGatewayOperations)
      .where(and(like(localGatewayOperations.idempotencyKey, `%/${placed.body.checkoutId}/%`)));
    expect(ops.map((o) => o.operation).sort()).toEqual(['authorize', 'capture']);
    const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    expect(level).toMatchObject({ onHand: 2, reserved: 0, sold: 2 });
  }, 120_000);

  it.each(['holdStock', 'authorizePayment', 'createOrder'])(
    'SIGKILL while a local step before the answer runs (%s): a new worker finishes the checkout exactly once',
    async (step) => {
      const queue = uniqueTaskQueue(`crash-${step}`);
      const local = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '60000' } });
      try {
        const first = startWorkerProcess(queue, { FAULT_PAUSE_BEFORE: step, FAULT_PAUSE_MS: '120000' });
        workers.push(first);
        const sku = await createProduct(local.dbs, { onHand: 4 });
        const cartId = (await local.http('POST', '/carts', { body: {} })).body.id as string;
        await local.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } });
        const placing = local.http('POST', '/checkouts', {
          headers: { 'Idempotency-Key': `crash-${step}` },
          body: { cartId, email: 'crash@example.com', paymentToken: 'tok_visa' },
        });
        const handle = local.temporal.workflow.getHandle(`checkout-${cartId}`);
        // the local step is paused inside the workflow task: wait until the run exists, then a bit
        await until(async () => ((await handle.describe()).status.name === 'RUNNING' ? true : undefined), 30_000);
        await new Promise((r) => setTimeout(r, 1_500));
        first.kill('SIGKILL');
        await new Promise((r) => first.once('exit', r));
        workers.push(startWorkerProcess(queue));

        const placed = await placing;
        expect(placed.status).toBe(201);
        await handle.result();
        const order = await local.http('GET', `/orders/${placed.body.orderId}`);
        expect(order.body).toMatchObject({ status: 'paid' });
        const ops = await local.dbs.payment
          .select()
          .from(localGatewayOperations)
          .where(and(like(localGatewayOperations.idempotencyKey, `%/${placed.body.checkoutId}/%`)));
        expect(ops.map((o) => o.operation).sort()).toEqual(['authorize', 'capture']);
        const [level] = await local.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
        expect(level).toMatchObject({ onHand: 3, reserved: 0, sold: 1 });
      } finally {
        await local.close();
      }
    },
    120_000,
  );

  it('SIGKILL with many checkouts in flight (paused before capture): every one ends placed and paid, once', async () => {
    const queue = uniqueTaskQueue('crash-many');
    const local = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '3000' } });
    try {
      const first = startWorkerProcess(queue, { FAULT_PAUSE_BEFORE: 'captureAndFinishPaidCheckout', FAULT_PAUSE_MS: '4000' });
      workers.push(first);
      const sku = await createProduct(local.dbs, { onHand: 100 });
      const carts: string[] = [];
      for (let i = 0; i < 20; i++) {
        const cartId = (await local.http('POST', '/carts', { body: {} })).body.id as string;
        await local.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } });
        carts.push(cartId);
      }
      const posting = Promise.all(
        carts.map((cartId, i) =>
          local.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `many-${i}` }, body: { cartId, email: 'crash@example.com', paymentToken: 'tok_visa' } }),
        ),
      );
      await new Promise((r) => setTimeout(r, 2_500));
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      workers.push(startWorkerProcess(queue));
      await posting;
      const results = await Promise.all(
        carts.map((cartId) =>
          local.temporal.workflow
            .getHandle(`checkout-${cartId}`)
            .result()
            .then((r) => (r as { status: string }).status),
        ),
      );
      expect(results.filter((s) => s === 'placed')).toHaveLength(20);
      const [level] = await local.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
      expect(level).toMatchObject({ onHand: 80, reserved: 0, sold: 20 });
      // every order paid; one authorization and one capture per checkout, nothing else
      const placedOrders = await local.dbs.order.select().from(orders).where(inArray(orders.cartId, carts));
      expect(placedOrders.map((o) => o.status)).toEqual(Array(20).fill('paid'));
      const ops = (
        await Promise.all(
          placedOrders.map((o) => local.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${o.checkoutId}/%`))),
        )
      ).flat();
      expect(ops.filter((o) => o.operation === 'authorize')).toHaveLength(20);
      expect(ops.filter((o) => o.operation === 'capture')).toHaveLength(20);
      expect(ops.filter((o) => o.operation !== 'authorize' && o.operation !== 'capture')).toEqual([]);
    } finally {
      await local.close();
    }
  }, 150_000);
});
