import { randomUUID } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { CartStore, cartKey } from '../../db/stores/cart';
import { createOrder } from '../../db/stores/orders';
import { createLogger } from '../../logger';
import { settleRecoveryStarts } from '../../temporal/cart-recovery';
import { temporalClientOptions } from '../../temporal/client';
import { setCartLine } from '../../usecases/change-cart';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * A cart write's recovery start is lost (Temporal out of reach, or the API stopping before the
 * queued start leaves): the marker says `open`, with the time it was opened. The first write after
 * CART_RECOVERY_RESTART_SECONDS starts the run again (cart-scripts.ts RECOVERY_AFTER_WRITE), and a
 * stopping API waits for the starts its last requests queued (api/server.ts, settleRecoveryStarts).
 */
describe('cart recovery: a lost start repairs itself', () => {
  let stack: Stack;
  let cut: Stack;
  const held: net.Socket[] = [];
  const blackhole = net.createServer((socket) => held.push(socket));
  const env = { CART_REMINDER_OFFSETS_MINUTES: '60,1440,4320', CART_RECOVERY_RESTART_SECONDS: '2' };

  beforeAll(async () => {
    // no worker: a run that starts stays on the stack's own (unpolled) task queue, RUNNING
    stack = await startStack({ env });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', () => resolve()));
    // the same API, its Temporal out of reach (a port that takes the connection and never answers)
    cut = await startStack({ env: { ...env, TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue }, temporalAddress: `127.0.0.1:${(blackhole.address() as AddressInfo).port}` });
  }, 60_000);
  afterAll(async () => {
    await cut?.close();
    await stack?.close();
    for (const socket of held) socket.destroy();
    blackhole.close();
  });

  const customerWhoOrdered = async () => {
    const email = `known-${randomUUID()}@example.com`;
    await createOrder(stack.dbs.order, { checkoutId: `chk_${randomUUID()}`, cartId: 'cart_prior', email, currency: 'USD', totalAmount: 100, lines: [{ sku: 'x', name: 'x', quantity: 1, unitPrice: 100, lineTotal: 100 }] });
    return email;
  };
  const stored = async (cartId: string) => JSON.parse((await stack.redis.get(cartKey(cartId))) ?? '{}') as { recovery?: string; recoveryAt?: number };
  const runOf = (cartId: string) =>
    stack.temporal.workflow
      .getHandle(`cart-recovery-${cartId}`)
      .describe()
      .then(
        (d) => d.status.name,
        () => 'none',
      );

  it('a write after the restart bound starts the run whose start was lost; one within it does not', async () => {
    const sku = await createProduct(stack.dbs);
    const cartId = (await stack.http('POST', '/carts', { body: { email: await customerWhoOrdered() } })).body.id as string;
    expect((await cut.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const opened = await stored(cartId);
    expect(opened.recovery).toBe('open');
    expect(typeof opened.recoveryAt).toBe('number');

    // within the bound: the marker stands for a start in flight, the write starts nothing
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(await runOf(cartId)).toBe('none');
    expect((await stored(cartId)).recoveryAt).toBe(opened.recoveryAt);

    // past the bound: the next write starts the run and opens the marker afresh
    await new Promise((r) => setTimeout(r, Math.max(0, (opened.recoveryAt ?? 0) + 2_100 - Date.now())));
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 3 } })).status).toBe(200);
    expect(await eventually(async () => ((await runOf(cartId)) === 'RUNNING' ? true : undefined), 10_000, 'the run started')).toBe(true);
    const reopened = await stored(cartId);
    expect(reopened.recovery).toBe('open');
    expect(reopened.recoveryAt).toBeGreaterThan(opened.recoveryAt ?? 0);
    await stack.temporal.workflow.getHandle(`cart-recovery-${cartId}`).terminate('test done');
  }, 60_000);

  it('the store kicks at most once per bound (its clock injected)', async () => {
    const t0 = Date.now();
    let clock = t0;
    const store = new CartStore(stack.redis, stack.dbs.cart, { ...stack.config.cart, recoveryRestartMs: 60_000 }, () => clock);
    const sku = await createProduct(stack.dbs);
    const cart = await store.create({ currency: 'USD', email: `x-${randomUUID()}@example.com` });
    const kicks: boolean[] = [];
    for (const [quantity, after] of [[1, 0], [2, 30_000], [3, 59_000], [4, 60_000], [5, 61_000], [6, 119_000], [7, 120_500]] as const) {
      clock = t0 + after;
      kicks.push((await store.setLine(cart.id, sku, quantity))?.recoveryKick === true);
    }
    // the first write opens the marker; the one at +60 s re-kicks; the next at +120.5 s (60.5 s later) again
    expect(kicks).toEqual([true, false, false, true, false, false, true]);
  });

  it('a stopping API waits for the recovery starts its last requests queued before closing its Temporal connection', async () => {
    const connection = await Connection.connect({ address: stack.config.temporal.address });
    const temporal = new Client(temporalClientOptions(stack.config, connection));
    const deps = { config: stack.config, logger: createLogger('silent'), dbs: stack.dbs, temporal, carts: new CartStore(stack.redis, stack.dbs.cart, stack.config.cart) };
    const sku = await createProduct(stack.dbs);
    const cartId = (await stack.http('POST', '/carts', { body: { email: await customerWhoOrdered() } })).body.id as string;
    expect((await setCartLine(deps, cartId, sku, 1)).kind).toBe('cart');
    // the answer is out; the process stops at once (api/server.ts: settle, then close)
    expect(await settleRecoveryStarts(temporal, 5_000)).toBe(0);
    await connection.close();
    expect(await runOf(cartId)).toBe('RUNNING');
    await stack.temporal.workflow.getHandle(`cart-recovery-${cartId}`).terminate('test done');
  });
});
