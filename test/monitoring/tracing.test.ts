import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../temporal/codec';
import { createLogger } from '../../logger';
import { startTracing, type Tracing } from '../../telemetry/tracing';
import { WORKFLOW_TRACING_MODULE } from '../../workers/worker';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/** A writable the logger writes JSON lines to, for the log-line assertions. */
function collectingStream(lines: Record<string, unknown>[]) {
  return { write: (chunk: string) => lines.push(JSON.parse(chunk) as Record<string, unknown>) };
}

describe('traces: one checkout is one trace from the HTTP request through the workflow to every activity and store call', () => {
  const exporter = new InMemorySpanExporter();
  const logLines: Record<string, unknown>[] = [];
  let tracing: Tracing;
  let stack: Stack;

  beforeAll(async () => {
    tracing = startTracing({ serviceName: 'orderly-test', exporter })!;
    // The suite's shared bundle has no tracing: this one carries the workflow interceptors.
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      workflowInterceptorModules: [WORKFLOW_TRACING_MODULE],
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m) => console.error(m) },
    });
    const codePath = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'orderly-traced-')), 'bundle.js');
    await fs.writeFile(codePath, code);
    stack = await startStack({
      worker: true,
      tracing: { tracing, workflowBundle: { codePath } },
      env: { CHECKOUT_WAIT_MS: '60000' },
      logger: createLogger('info', 'orderly-test', collectingStream(logLines)),
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await tracing?.shutdown();
  });

  it('places an order in one trace: POST /checkouts → update-with-start → checkoutWorkflow → each activity → PostgreSQL, Redis, the gateway', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1800, onHand: 10 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 3 } });
    exporter.reset();

    const res = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'traced-1', 'X-Request-Id': 'req-traced-1' },
      body: { cartId: cart.body.id, email: 'traced@example.com', paymentToken: 'tok_visa' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe('req-traced-1');
    await stack.temporal.workflow.getHandle(`checkout-${cart.body.id}`).result();

    const server = await eventually(async () => exporter.getFinishedSpans().find((s) => s.name === 'POST /checkouts'), 10_000, 'the server span');
    const traceId = server.spanContext().traceId;
    const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    // Workflow spans reach the exporter through the worker's sink, after the workflow task completes.
    await eventually(async () => (inTrace().some((s) => s.name === 'RunWorkflow:checkoutWorkflow') ? true : undefined), 15_000, 'the workflow span');
    const spans = inTrace();
    const names = new Set(spans.map((s) => s.name));

    expect(server.parentSpanId).toBeUndefined();
    expect(names).toContain('UpdateWithStartWorkflow:placeOrder');
    expect(names).toContain('RunWorkflow:checkoutWorkflow');
    expect(names).toContain('HandleUpdate:placeOrder');
    // Every activity the workflow scheduled ran in this trace.
    const started = [...names].filter((n) => n.startsWith('StartActivity:')).map((n) => n.slice('StartActivity:'.length));
    const ran = [...names].filter((n) => n.startsWith('RunActivity:')).map((n) => n.slice('RunActivity:'.length));
    expect(started.length).toBeGreaterThanOrEqual(6);
    expect(new Set(ran)).toEqual(new Set(started));
    // after the answer, one activity captures, commits the stock, marks the order paid, clears the cart and sends the confirmation
    for (const step of ['claimCheckout', 'freezeCart', 'holdStock', 'authorizePayment', 'createOrder', 'captureAndFinishPaidCheckout']) expect(ran).toContain(step);
    // The stores and the gateway under the activities.
    expect([...names].some((n) => n.startsWith('pg '))).toBe(true);
    expect([...names].some((n) => n.startsWith('redis '))).toBe(true);
    expect([...names].some((n) => n.startsWith('payment.'))).toBe(true);
    expect(names).toContain('smtp.send');
    // One tree: every span's parent is in the trace, and the server span is its only root.
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    expect(spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId)).map((s) => s.name)).toEqual(['POST /checkouts']);

    // The request's log line carries its request id and the trace id.
    const line = logLines.find((l) => (l.req as { id?: string } | undefined)?.id === 'req-traced-1');
    expect(line).toMatchObject({ traceId, req: { method: 'POST', path: '/checkouts' }, res: { statusCode: 201 } });
  });

  it("traces a product search to Elasticsearch (the client's own spans) under the request's span", async () => {
    exporter.reset();
    const res = await stack.http('GET', '/products?q=anything');
    expect(res.status).toBe(200);
    const server = await eventually(async () => exporter.getFinishedSpans().find((s) => s.name === 'GET /products'), 10_000, 'the server span');
    const inTrace = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === server.spanContext().traceId);
    expect(inTrace.some((s) => s.attributes['db.system'] === 'elasticsearch')).toBe(true);
  });
});
