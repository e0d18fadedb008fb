import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { and, eq, like } from 'drizzle-orm';
import { stock } from '../../db/schema/inventory';
import { localGatewayOperations } from '../../db/schema/payment';
import { checkoutStatusQuery } from '../../workflows/messages';
import { uniqueTaskQueue } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '../..');

/** The real worker process (workers/main.ts), so the test can SIGKILL it. */
function startWorkerProcess(taskQueue: string, extraEnv: Record<string, string> = {}): ChildProcess {
  // `--import tsx` keeps it one process: the SIGKILL must hit the worker itself.
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: taskQueue, ...extraEnv },
    stdio: 'ignore',
  });
}

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
    workers.push(startWorkerProcess(taskQueue, { FAULT_PAUSE_BEFORE: 'capturePayment', FAULT_PAUSE_MS: '120000' }));
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
});
