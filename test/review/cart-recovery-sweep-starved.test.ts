import { sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { createActivities } from '../../activities';
import { cartKey } from '../../db/stores/cart';
import { createOrder } from '../../db/stores/orders';
import { createLogger } from '../../logger';
import { buildActivityDeps } from '../../workers/deps';
import { createTestDatabase } from '../helpers/database';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review r18c (3331eac). A cart write's start of the recovery run is fire-and-forget; when it
 * fails the cart's marker still says `open`, so no later write starts (or tells) a run either:
 * the sweep Schedule is the only repair. The sweep takes the 500 OLDEST idle carts of its window
 * (recoverableCarts ... orderBy updatedAt limit 500; window: 1 h .. 73 h idle). Abandoned carts
 * keep their email and lines after their reminders are done (or after an opt-out / a stranger's
 * address), so any shop with 500 such carts in the last three days has its sweep re-signalling
 * the same old carts every 5 minutes and never reaching a cart whose start just failed: its
 * first reminder (due at lastChange + 60 min) is never sent (or only ~days later, when the cart
 * has aged into the oldest 500).
 */
describe('review r18c: a failed start is left to a sweep that never reaches the cart', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let cut: Stack;
  const held: net.Socket[] = [];
  const blackhole = net.createServer((socket) => held.push(socket));
  const oldIds: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('r18csweep');
    const env = { DATABASE_URL: db.url, CART_REMINDER_OFFSETS_MINUTES: '60,1440,4320' };
    // no worker: the runs the sweep starts stay on this stack's own (unpolled) task queue
    stack = await startStack({ env });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', () => resolve()));
    // the same API, but its Temporal is out of reach (a port that takes the connection and never answers)
    cut = await startStack({ env: { ...env, TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue }, temporalAddress: `127.0.0.1:${(blackhole.address() as AddressInfo).port}` });
  }, 60_000);

  afterAll(async () => {
    for (let i = 0; i < oldIds.length; i += 50) {
      await Promise.all(oldIds.slice(i, i + 50).map((id) => stack.temporal.workflow.getHandle(`cart-recovery-${id}`).terminate('review test done').catch(() => undefined)));
    }
    await cut?.close();
    await stack?.close();
    for (const socket of held) socket.destroy();
    blackhole.close();
    await db?.drop();
  }, 120_000);

  it('a cart whose start failed gets no run from the sweep while 500 older abandoned carts sit in its window', async () => {
    // 500 carts abandoned 2 .. 3 days ago, their reminders done or not to be sent: still an email and lines
    const now = Date.now();
    const rows = Array.from({ length: 500 }, (_, i) => {
      const id = `cart_old_${randomUUID().replace(/-/g, '')}`;
      oldIds.push(id);
      const at = new Date(now - (48 * 60 + i) * 60_000).toISOString();
      return sql`(${id}, 'USD', ${`old-${i}@example.com`}, ${JSON.stringify([{ sku: 'x', quantity: 1 }])}::jsonb, 2, ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz + interval '30 days')`;
    });
    await stack.dbs.cart.execute(sql`insert into cart.carts (id, currency, email, lines, version, created_at, updated_at, expires_at) values ${sql.join(rows, sql`, `)}`);

    // a known customer's cart; its first line is written while Temporal is out of reach: the start is lost
    const email = `known-${randomUUID()}@example.com`;
    await createOrder(stack.dbs.order, { checkoutId: `chk_${randomUUID()}`, cartId: 'cart_prior', email, currency: 'USD', totalAmount: 100, lines: [{ sku: 'x', name: 'x', quantity: 1, unitPrice: 100, lineTotal: 100 }] });
    const sku = await createProduct(stack.dbs);
    const cartId = (await stack.http('POST', '/carts', { body: { email } })).body.id as string;
    expect((await cut.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    // Temporal is back: the customer keeps shopping through the healthy API ...
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    // ... but the marker says `open`, so that write started nothing
    expect((JSON.parse((await stack.redis.get(cartKey(cartId))) ?? '{}') as { recovery?: string }).recovery).toBe('open');
    const handle = stack.temporal.workflow.getHandle(`cart-recovery-${cartId}`);
    await expect(handle.describe()).rejects.toThrow();

    // two hours later (the first reminder was due an hour ago) the sweep runs
    await stack.dbs.cart.execute(sql`update cart.carts set updated_at = now() - interval '2 hours' where id = ${cartId}`);
    const activities = createActivities(buildActivityDeps({ config: stack.config, logger: createLogger('silent'), dbs: stack.dbs, redis: stack.redis, temporal: stack.temporal }));
    expect(await activities.ensureCartRecoveries()).toBe(500);

    // the durable promise: the cart now has its run (its first reminder goes out, late by at most a sweep)
    const described = await handle.describe().then(
      (d) => d.status.name,
      () => 'no run: the sweep never reached this cart',
    );
    expect(described).toBe('RUNNING');
  }, 180_000);
});
