import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, inArray, like, or } from 'drizzle-orm';
import { stock } from '../../db/schema/inventory';
import { orders } from '../../db/schema/order';
import { localGatewayOperations } from '../../db/schema/payment';
import { checkoutStatusQuery } from '../../workflows/messages';
import { uniqueTaskQueue } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startWorkerProcess } from '../helpers/worker-process';

const CHECKOUTS = 12;

async function until<T>(probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a worker stopped with SIGTERM in the middle of a load (a Kubernetes pod being replaced)', () => {
  let stack: Stack;
  const taskQueue = uniqueTaskQueue('sigterm');
  const workers: ChildProcess[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orderly-sigterm-'));
  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: taskQueue, CHECKOUT_WAIT_MS: '3000' } });
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drains: the captures in flight finish in the stopping worker, it exits 0, and a new worker completes every checkout exactly once', async () => {
    const heartbeat = path.join(dir, 'alive');
    // every capture takes 8 s (its first attempt pauses): SIGTERM lands while they all run
    const first = startWorkerProcess(taskQueue, {
      FAULT_PAUSE_BEFORE: 'captureAndFinishPaidCheckout',
      FAULT_PAUSE_MS: '8000',
      WORKER_SHUTDOWN_GRACE_SECONDS: '30',
      WORKER_HEARTBEAT_FILE: heartbeat,
    });
    workers.push(first);
    const sku = await createProduct(stack.dbs, { onHand: 50 });
    const carts: string[] = [];
    for (let i = 0; i < CHECKOUTS; i++) {
      const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
      await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } });
      carts.push(cartId);
    }
    const posting = Promise.all(
      carts.map((cartId, i) =>
        stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `sigterm-${i}` }, body: { cartId, email: 'sigterm@example.com', paymentToken: 'tok_visa' } }),
      ),
    );
    const handles = carts.map((cartId) => stack.temporal.workflow.getHandle(`checkout-${cartId}`));
    // all captures started (and paused) in the first worker
    let steps: string[] = [];
    await until(async () => {
      steps = await Promise.all(handles.map((h) => h.query(checkoutStatusQuery).then((s) => s.step)));
      return steps.every((s) => s === 'capturing_payment') ? true : undefined;
    }, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${steps.join(',')}`);
    });
    expect(existsSync(heartbeat)).toBe(true);

    first.kill('SIGTERM');
    const [code, signal] = (await new Promise((r) => first.once('exit', (c, s) => r([c, s])))) as [number | null, NodeJS.Signals | null];
    // a clean exit after the drain, not killed by the signal
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(existsSync(heartbeat)).toBe(false);

    // before any other worker runs: every capture that was in flight reached the gateway, once
    const checkoutIds = (await posting).map((r) => r.body.checkoutId as string);
    expect(checkoutIds.every(Boolean)).toBe(true);
    const opsOf = () =>
      stack.dbs.payment
        .select()
        .from(localGatewayOperations)
        .where(or(...checkoutIds.map((id) => like(localGatewayOperations.idempotencyKey, `%/${id}/%`))));
    const drained = await opsOf();
    expect(drained.filter((o) => o.operation === 'capture')).toHaveLength(CHECKOUTS);

    // the workflows' next steps wait on the queue; a new worker finishes them
    workers.push(startWorkerProcess(taskQueue));
    const results = await Promise.all(handles.map((h) => h.result().then((r) => (r as { status: string }).status)));
    expect(results).toEqual(Array(CHECKOUTS).fill('placed'));
    const placed = await stack.dbs.order.select().from(orders).where(inArray(orders.cartId, carts));
    expect(placed.map((o) => o.status)).toEqual(Array(CHECKOUTS).fill('paid'));
    const ops = await opsOf();
    expect(ops.filter((o) => o.operation === 'authorize')).toHaveLength(CHECKOUTS);
    expect(ops.filter((o) => o.operation === 'capture')).toHaveLength(CHECKOUTS);
    expect(ops.filter((o) => o.operation !== 'authorize' && o.operation !== 'capture')).toEqual([]);
    const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    expect(level).toMatchObject({ onHand: 50 - CHECKOUTS, reserved: 0, sold: CHECKOUTS });
  }, 120_000);
});
