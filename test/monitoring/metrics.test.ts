import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { serveMetrics } from '../../api/metrics';
import { orders } from '../../db/schema/order';
import { closedPort } from '../helpers/app';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { uniqueTaskQueue } from '../helpers/temporal';

const ROOT = path.resolve(__dirname, '../..');

/** One sample's value from a Prometheus text page (0 when the series is absent). */
export function sample(page: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of page.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ([^ ]+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

describe('metrics: the API /metrics listener and the worker runtime endpoint move when checkouts run', () => {
  let stack: Stack;
  let metricsServer: Server;
  let apiMetricsUrl: string;
  let worker: ChildProcess;
  let workerMetricsUrl: string;

  beforeAll(async () => {
    const taskQueue = uniqueTaskQueue('metrics');
    // The real worker process (workers/main.ts) with its Prometheus endpoint, polling the stack's queue.
    const workerPort = await closedPort();
    worker = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        ORDERLY_MODE: 'test',
        LOG_LEVEL: 'silent',
        TEMPORAL_TASK_QUEUE: taskQueue,
        WORKER_METRICS_PORT: String(workerPort),
        METRICS_HOST: '127.0.0.1',
        // The gateway refuses the first capture: that checkout parks for support (a real parking to count).
        GATEWAY_FAULT_MODE: 'reject',
        GATEWAY_FAULT_OPERATIONS: 'capture',
        GATEWAY_FAULT_COUNT: '1',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    workerMetricsUrl = `http://127.0.0.1:${workerPort}/metrics`;
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: taskQueue, CHECKOUT_WAIT_MS: '60000' }, gaugeCacheMs: 0 });
    metricsServer = await serveMetrics(stack.metrics, 0, '127.0.0.1');
    apiMetricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;
  }, 120_000);

  let parkedWorkflowId: string | undefined;

  afterAll(async () => {
    if (parkedWorkflowId) await stack.temporal.workflow.getHandle(parkedWorkflowId).terminate('metrics test done').catch(() => undefined);
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    }
    metricsServer?.close();
    await stack?.close();
  });

  async function cartWith(sku: string, quantity: number): Promise<string> {
    const cart = await stack.http('POST', '/carts', { body: {} });
    expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity } })).status).toBe(200);
    return cart.body.id as string;
  }
  const checkout = (cartId: string, key: string, paymentToken = 'tok_visa') =>
    stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body: { cartId, email: 'metrics@example.com', paymentToken } });

  it('counts requests per route template, checkouts by outcome and code, and reads the parked-orders gauge after a real parking', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 500, onHand: 50 });
    const before = await scrape(apiMetricsUrl);
    const placedBefore = sample(before, 'orderly_checkouts_total', { outcome: 'placed', code: 'none' });
    const declinedBefore = sample(before, 'orderly_checkouts_total', { outcome: 'failed', code: 'payment_declined' });

    const placedCart = await cartWith(sku, 2);
    const placed = await checkout(placedCart, 'metrics-placed');
    expect(placed.status).toBe(201);
    parkedWorkflowId = `checkout-${placedCart}`;
    const declined = await checkout(await cartWith(sku, 1), 'metrics-declined', 'tok_chargeDeclined');
    expect(declined.status).toBe(402);
    expect((await stack.http('GET', `/carts/nope-${Date.now()}`)).status).toBe(400);

    // The refused capture parks the placed order for support: the gauge reads it from the order store.
    await eventually(async () => {
      const [row] = await stack.dbs.order.select({ status: orders.status }).from(orders).where(eq(orders.id, placed.body.orderId));
      return row?.status === 'needs_attention' ? true : undefined;
    }, 30_000, 'the order parked');

    const after = await scrape(apiMetricsUrl);
    expect(sample(after, 'orderly_checkouts_total', { outcome: 'placed', code: 'none' })).toBe(placedBefore + 1);
    expect(sample(after, 'orderly_checkouts_total', { outcome: 'failed', code: 'payment_declined' })).toBe(declinedBefore + 1);
    expect(sample(after, 'orderly_http_request_duration_seconds_count', { method: 'POST', route: '/checkouts', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'orderly_http_request_duration_seconds_count', { method: 'POST', route: '/checkouts', status_class: '4xx' })).toBeGreaterThanOrEqual(1);
    // Ids never become labels: the route is the documented template.
    expect(sample(after, 'orderly_http_request_duration_seconds_count', { method: 'GET', route: '/carts/{cartId}', status_class: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(after).not.toContain('nope-');
    // the gauge counts every parked order in the store, which other suites park and resolve
    // meanwhile: only this order's parking is ours to count on
    expect(sample(after, 'orderly_orders_needing_attention')).toBeGreaterThanOrEqual(1);
    expect(after).toMatch(/^orderly_search_outbox_oldest_seconds \d/m);
    expect(after).toMatch(/^orderly_search_outbox_depth \d/m);
    expect(after).toMatch(/^# TYPE orderly_refunds_total counter/m);
  });

  it("exposes the worker's SDK metrics: schedule-to-start latency, slots, sticky cache, polls", async () => {
    const page = await scrape(workerMetricsUrl);
    for (const name of [
      'temporal_workflow_task_schedule_to_start_latency_count',
      'temporal_activity_schedule_to_start_latency_count',
      'temporal_worker_task_slots_available',
      'temporal_worker_task_slots_used',
      'temporal_sticky_cache_size',
      'temporal_workflow_task_queue_poll_succeed_total',
    ]) {
      expect({ name, present: page.includes(`\n${name}{`) }).toEqual({ name, present: true });
    }
    // The declined checkout completed; the parked one counted by the activity that parked it.
    expect(sample(page, 'temporal_workflow_completed_total', { workflow_type: 'checkoutWorkflow' })).toBeGreaterThanOrEqual(1);
    expect(sample(page, 'orderly_orders_parked_total', { activityType: 'markOrderNeedsAttention' })).toBe(1);
  });
});
