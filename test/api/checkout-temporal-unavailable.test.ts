import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// the transport under @temporalio/client (its interceptors are grpc-js's): a test-only import
import { InterceptingCall, Metadata, status, type Interceptor } from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { createApp } from '../../api/app';
import { holds, stock } from '../../db/schema/inventory';
import { createApiMetrics } from '../../api/metrics';
import { cartKey } from '../../db/stores/cart';
import { createLogger } from '../../logger';
import { temporalClientOptions } from '../../temporal/client';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { createProduct, startStack, type HttpResult, type Stack } from '../helpers/stack';

/**
 * POST /checkouts when Temporal does not take the checkout's workflow: the start never reached
 * the server (the connection failed before the call was sent), or Temporal is unreachable
 * altogether. The answer is 503 service_unavailable with Retry-After and the checkout's id,
 * never a 500 and never a 202 for a checkout no workflow runs. The same request again (same
 * Idempotency-Key) reopens the checkout and starts its workflow: 201. The 503 fences the
 * checkout's row first (failed, unless a run claimed it), so a start that lands later holds and
 * charges nothing, and the cart is unlocked (its customer may change it).
 */
describe('POST /checkouts: Temporal takes no workflow for the checkout', () => {
  let stack: Stack;
  const apis: { server: Server; client: Client; keepOpen: boolean }[] = [];

  /** This stack's API with its own Temporal connection (the stack's worker, databases and Redis). */
  async function apiWith(connection: Connection, settings: { waitMs?: number; taskQueue?: string; keepOpen?: boolean } = {}): Promise<(path: string, body: unknown, key: string) => Promise<HttpResult>> {
    const client = new Client(temporalClientOptions(stack.config, connection));
    // a short wait: the unreachable case answers within it (the stack's own API waits long: the retries' 201 is not a race with a busy worker)
    const config = {
      ...stack.config,
      checkout: { ...stack.config.checkout, waitMs: settings.waitMs ?? 3000 },
      temporal: { ...stack.config.temporal, taskQueue: settings.taskQueue ?? stack.config.temporal.taskQueue },
    };
    const app = createApp({ config, logger: createLogger('silent'), dbs: stack.dbs, redis: stack.redis, temporal: client, search: stack.search, metrics: createApiMetrics(stack.dbs) });
    const server = createServer(app).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    apis.push({ server, client, keepOpen: settings.keepOpen ?? false });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return async (path, body, key) => {
      const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', 'Idempotency-Key': key }, body: JSON.stringify(body) });
      return { status: res.status, body: await res.json(), headers: res.headers };
    };
  }

  async function cartWithALine(given?: string): Promise<string> {
    const sku = given ?? (await createProduct(stack.dbs, { priceAmount: 800, onHand: 5 }));
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    return cartId;
  }

  const stockOf = async (sku: string) => (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0];
  const lockOf = async (cartId: string) => {
    const cart = JSON.parse((await stack.redis.get(cartKey(cartId))) as string) as { checkoutId?: string; lockedUntil?: number };
    return cart.lockedUntil !== undefined && cart.lockedUntil !== null && cart.lockedUntil > Date.now() ? cart.checkoutId : undefined;
  };

  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
  }, 120_000);
  afterAll(async () => {
    for (const { server, client, keepOpen } of apis) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // (a connection to a closed port is left open: its client's gRPC retry timers, still backing
      // off for the call the API gave up, would create a call on a shut channel and throw from a
      // timer into whichever suite runs next; open, they fail against the closed port and stop)
      if (!keepOpen) await client.connection.close();
    }
    await stack?.close();
  });

  it('the start fails before it is sent: 503 + Retry-After, the cart unlocked, the same request again → 201', async () => {
    // every ExecuteMultiOperation (update-with-start) fails before it leaves: the connection dropped
    const failStarts: Interceptor = (options, nextCall) =>
      options.method_definition.path.endsWith('/ExecuteMultiOperation')
        ? new InterceptingCall(nextCall(options), {
            // never started: nothing leaves
            start: (_metadata, listener) => {
              setImmediate(() => listener.onReceiveStatus({ code: status.UNAVAILABLE, details: 'test: the connection dropped before the call was sent', metadata: new Metadata() }));
            },
            sendMessage: () => undefined,
            halfClose: () => undefined,
            cancel: () => undefined,
          })
        : new InterceptingCall(nextCall(options));
    const post = await apiWith(await Connection.connect({ address: stack.config.temporal.address, interceptors: [failStarts] }));
    const sku = await createProduct(stack.dbs, { priceAmount: 800, onHand: 5 });
    const cartId = await cartWithALine(sku);
    const body = { cartId, email: 'start-not-sent@example.com', paymentToken: 'tok_visa' };

    const refused = await post('/checkouts', body, 'start-not-sent');
    expect({ status: refused.status, code: refused.body?.error?.code }).toEqual({ status: 503, code: 'service_unavailable' });
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    const checkoutId = refused.body.error.details.checkoutId as string;
    expect(checkoutId).toEqual(expect.any(String));
    // no workflow took it, and its cart is not held for it
    await expect(stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)).describe()).rejects.toThrow();
    expect(await lockOf(cartId)).toBeUndefined();
    const shown = (await stack.http('GET', `/checkouts/${checkoutId}`)).body;
    // fenced: no run of it may start now (a late one would find it failed); the same request reopens it
    expect({ status: shown.status, code: shown.failure?.code }).toEqual({ status: 'failed', code: 'service_unavailable' });

    // its admission hold stays for the same request (a give-back could land after that request's run used it)
    expect(await stack.dbs.inventory.select({ sku: holds.sku, quantity: holds.quantity, status: holds.status }).from(holds).where(eq(holds.holdId, checkoutId))).toEqual([{ sku, quantity: 1, status: 'held' }]);
    expect(await stockOf(sku)).toMatchObject({ onHand: 5, reserved: 1 });

    // the customer changes the cart meanwhile (it is unlocked); the same request again, Temporal
    // reachable: the row reopens, the hold is replaced by the lines as they are now, and the run places it
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
    const retried = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'start-not-sent' }, body });
    expect({ status: retried.status, checkoutId: retried.body.checkoutId, state: retried.body.status }).toEqual({ status: 201, checkoutId, state: 'placed' });
    await stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)).result();
    expect(await stockOf(sku)).toMatchObject({ onHand: 3, reserved: 0, sold: 2 });
  }, 60_000);

  it('Temporal unreachable: 503 + Retry-After within the wait (not a 202 for a checkout nothing runs), the same request again → 201', async () => {
    // a port nobody listens on
    const closed = createServer().listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => closed.once('listening', () => resolve()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const post = await apiWith(Connection.lazy({ address: `127.0.0.1:${port}` }), { keepOpen: true });
    const cartId = await cartWithALine();
    const body = { cartId, email: 'temporal-down@example.com', paymentToken: 'tok_visa' };

    const started = Date.now();
    const refused = await post('/checkouts', body, 'temporal-down');
    expect({ status: refused.status, code: refused.body?.error?.code }).toEqual({ status: 503, code: 'service_unavailable' });
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    // the wait (3 s) and the durable-state check (2 s), not the client's ~20 s of reconnects
    expect(Date.now() - started).toBeLessThan(15_000);
    const checkoutId = refused.body.error.details.checkoutId as string;

    const retried = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'temporal-down' }, body });
    expect({ status: retried.status, checkoutId: retried.body.checkoutId, state: retried.body.status }).toEqual({ status: 201, checkoutId, state: 'placed' });
  }, 60_000);
  it('a wait of 0 with no worker to run the task yet: 202 pending for the started run (its start was on its way, not missing)', async () => {
    const post = await apiWith(await Connection.connect({ address: stack.config.temporal.address }), { waitMs: 0, taskQueue: `nobody-polls-${Date.now()}` });
    const cartId = await cartWithALine();
    const answer = await post('/checkouts', { cartId, email: 'wait-zero@example.com', paymentToken: 'tok_visa' }, 'wait-zero');
    expect({ status: answer.status, state: answer.body?.status }).toEqual({ status: 202, state: 'pending' });
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect(await lockOf(cartId)).toBe(answer.body.checkoutId);
    await handle.terminate('test over: no worker polls its queue');
  }, 60_000);
});
