import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createOrder } from '../../db/stores/orders';
import { Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { loadConfig } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { createRedis, type RedisClient } from '../../db/redis';
import { CartStore } from '../../db/stores/cart';
import { isOptedOut, optOut } from '../../db/stores/unsubscribe';
import { createLogger } from '../../logger';
import { buildActivityDeps } from '../../workers/deps';
import { cartRecoveryWorkflow } from '../../workflows/cart-recovery';
import { cartChangedSignal, type CartRecoveryView } from '../../workflows/messages';
import { setCartLine } from '../../usecases/change-cart';
import { cartKey } from '../../db/stores/cart';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack } from '../helpers/stack';
import { mailHeaders, mailTo, type CaughtMail } from '../helpers/mail';
import { createTimeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';

type Mail = CaughtMail;

/** Waits (real time) until `email` has received `n` messages, then checks no more arrive. */
async function expectMails(email: string, n: number): Promise<Mail[]> {
  const deadline = Date.now() + 15_000;
  let mails = await mailTo(email);
  while (mails.length < n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    mails = await mailTo(email);
  }
  await new Promise((r) => setTimeout(r, 300));
  mails = await mailTo(email);
  expect(mails).toHaveLength(n);
  return mails;
}

const HOUR = 3_600_000;

describe('abandoned-cart recovery (time-skipping clock, real stores and SMTP)', () => {
  let env: TestWorkflowEnvironment;
  let dbs: Databases;
  let redis: RedisClient;
  let carts: CartStore;
  let deps: ActivityDeps;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = uniqueTaskQueue('recovery');
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', CART_REMINDER_DISCOUNT_CODE: 'COMEBACK10' });

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    dbs = createDatabases(config);
    redis = createRedis(config);
    carts = new CartStore(redis, dbs.cart, config.cart);
    deps = buildActivityDeps({ config, logger: createLogger('silent'), dbs, redis });
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities: createActivities(deps) });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    deps?.mailer.close();
    redis?.disconnect();
    await dbs?.close();
    await env?.teardown();
  });

  /** A customer who placed an order before: reminders may go to them (domain/cart-reminder.ts mayRemind). */
  async function placedOrderBefore(email: string) {
    await createOrder(dbs.order, { checkoutId: `chk_prior_${randomUUID()}`, cartId: `cart_prior_${randomUUID()}`, email, currency: 'USD', totalAmount: 500, lines: [{ sku: 'prior', name: 'prior', quantity: 1, unitPrice: 500, lineTotal: 500 }] });
  }

  async function idleCart(opts: { known?: 'prior-order' | 'account' | false } = {}) {
    const known = opts.known ?? 'prior-order';
    const email = `idle-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
    if (known === 'prior-order') await placedOrderBefore(email.toUpperCase());
    const sku = await createProduct(dbs, { priceAmount: 2500, onHand: 10 });
    const cart = await carts.create({ currency: 'USD', email });
    const withLine = await carts.setLine(cart.id, sku, 2);
    if (!withLine) throw new Error('no cart');
    const start = await env.currentTimeMs();
    const handle = await env.client.workflow.start(cartRecoveryWorkflow, {
      taskQueue,
      workflowId: `cart-recovery-${cart.id}`,
      args: [{ cartId: cart.id, version: withLine.version, updatedAt: start, offsetsMinutes: config.recovery.offsetsMinutes, discountCode: 'COMEBACK10', ownedByAccount: known === 'account' ? true : undefined }],
    });
    const at = async (ms: number) => env.sleep(Math.max(0, start + ms - (await env.currentTimeMs())));
    return { email, sku, cart: withLine, handle, at };
  }

  it('an idle cart gets reminders at 1 h, 24 h and 72 h (the last with the discount code), then no more', async () => {
    const { email, handle, at } = await idleCart();
    await at(HOUR - 60_000);
    await expectMails(email, 0);
    await at(HOUR + 60_000);
    const [first] = await expectMails(email, 1);
    expect(first?.subject).toBe('You left something in your cart');
    expect(first?.text).toContain('2 × Test product');
    expect(first?.text).toContain('50.00 USD (in stock)');
    await at(24 * HOUR + 60_000);
    await expectMails(email, 2);
    await at(72 * HOUR + 60_000);
    const mails = await expectMails(email, 3);
    expect(mails[2]?.text).toContain('COMEBACK10');
    const result: CartRecoveryView = await handle.result();
    expect(result).toMatchObject({ sent: 3 });
    await at(200 * HOUR);
    await expectMails(email, 3);
    await recordHistory(handle, 'cartRecoveryWorkflow', 'three-reminders');
  });

  /**
   * The cart written as the API writes it (the use case), at the test server's clock: the use
   * case starts the cart's run itself, on this suite's task queue, and signals it only when the
   * cart's marker says so.
   */
  async function apiCart() {
    const email = `api-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
    await placedOrderBefore(email);
    const sku = await createProduct(dbs, { priceAmount: 2500, onHand: 10 });
    let clock = await env.currentTimeMs();
    // a restart bound (CART_RECOVERY_RESTART_SECONDS) longer than these tests' gaps between writes:
    // an `open` marker older than it is kicked again (test/api/cart-recovery-restart.test.ts)
    const clocked = new CartStore(redis, dbs.cart, { ...config.cart, recoveryRestartMs: 100 * HOUR }, () => clock);
    const deps = { config: { ...config, temporal: { ...config.temporal, taskQueue } }, logger: createLogger('silent'), dbs, temporal: env.client, carts: clocked };
    const cart = await clocked.create({ currency: 'USD', email });
    const start = clock;
    const at = async (ms: number) => env.sleep(Math.max(0, start + ms - (await env.currentTimeMs())));
    const handle = env.client.workflow.getHandle(`cart-recovery-${cart.id}`);
    const signals = async () => ((await handle.fetchHistory()).events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
    /** Sets a line at the test server's time now, through the use case (as PUT / DELETE do). */
    const write = async (quantity: number) => {
      clock = await env.currentTimeMs();
      const result = await setCartLine(deps, cart.id, sku, quantity);
      expect(result.kind).toBe('cart');
    };
    const marker = async () => (JSON.parse((await redis.get(cartKey(cart.id))) ?? '{}') as { recovery?: string }).recovery;
    return { email, cart, handle, at, write, signals, marker };
  }

  it('several writes start one run and signal nothing: the reminder comes 1 h after the last of them; after a reminder, one write tells the run once', async () => {
    const { email, handle, at, write, signals, marker } = await apiCart();
    await write(1);
    await eventually(async () => (await handle.describe()).status.name === 'RUNNING' || undefined, 10_000, 'the run started');
    expect(await marker()).toBe('open');
    await at(20 * 60_000);
    await write(2);
    await at(50 * 60_000);
    await write(3);
    await new Promise((r) => setTimeout(r, 300)); // a signal, had one gone out, would be in the history by now
    expect(await signals()).toBe(1); // the signal-with-start that started the run, none per write
    await at(HOUR + 60_000); // the first write's due time: the run woke, found version 4 and sleeps again
    await expectMails(email, 0);
    await at(HOUR + 49 * 60_000);
    await expectMails(email, 0);
    await at(HOUR + 51 * 60_000); // 1 h after the last write
    const [first] = await expectMails(email, 1);
    expect(first?.text).toContain('3 × Test product');
    expect(await marker()).toBe('later');

    await at(5 * HOUR); // a change after a reminder: the run sleeps towards 24 h, so this write tells it
    await write(4);
    await eventually(async () => ((await signals()) === 2 ? true : undefined), 10_000, 'the change signalled');
    expect(await marker()).toBe('open');
    await at(6 * HOUR - 60_000);
    await expectMails(email, 1);
    await at(6 * HOUR + 60_000); // reminder 1 again, 1 h after the change
    const again = await expectMails(email, 2);
    expect(again[1]?.text).toContain('4 × Test product');
    await at(26 * HOUR); // the old clock's 24 h reminder (1 h 50 + 24 h) is not sent
    await expectMails(email, 2);
    await at(29 * HOUR + 60_000); // 24 h after the change
    await expectMails(email, 3);
    await at(77 * HOUR + 60_000); // 72 h after the change, with the discount code
    const mails = await expectMails(email, 4);
    expect(mails[3]?.text).toContain('COMEBACK10');
    expect(await signals()).toBe(2);
    expect(await marker()).toBeUndefined(); // the run ended: the next write with lines starts one again
    expect(await handle.result()).toMatchObject({ sent: 4 });
    await recordHistory(handle, 'cartRecoveryWorkflow', 'started-once-several-writes-signalled-once');
  });

  it('a cart emptied and refilled: within the run the clock moves; emptied when the run wakes, the run ends and a refill starts another', async () => {
    const { email, handle, at, write, marker } = await apiCart();
    await write(1);
    await eventually(async () => (await handle.describe()).status.name === 'RUNNING' || undefined, 10_000, 'the run started');
    const firstRun = (await handle.describe()).runId;
    await at(10 * 60_000);
    await write(0); // emptied
    await at(20 * 60_000);
    await write(2); // refilled: the marker says the run is open, nothing to tell it
    await at(HOUR + 60_000);
    await expectMails(email, 0);
    await at(HOUR + 21 * 60_000); // 1 h after the refill
    await expectMails(email, 1);

    await at(2 * HOUR);
    await write(0); // emptied again; the run sleeps towards reminder 2 (25 h 20)
    await at(25 * HOUR + 30 * 60_000);
    const firstRunEnded = env.client.workflow.getHandle(handle.workflowId, firstRun);
    expect((await firstRunEnded.describe()).status.name).toBe('COMPLETED');
    expect(await marker()).toBeUndefined();

    await at(30 * HOUR);
    await write(3); // refilled after the run ended: the write starts a new one
    await eventually(async () => {
      const d = await handle.describe();
      return d.runId !== firstRun && d.status.name === 'RUNNING' ? d : undefined;
    }, 10_000, 'a new run');
    await at(31 * HOUR - 60_000);
    await expectMails(email, 1);
    await at(31 * HOUR + 60_000);
    const mails = await expectMails(email, 2);
    expect(mails[1]?.text).toContain('3 × Test product');
    await handle.terminate('test done');
    // last: waiting on a result lets the test server skip its clock ahead
    expect(await firstRunEnded.result()).toMatchObject({ sent: 1, stopped: 'emptied' });
    await recordHistory(firstRunEnded, 'cartRecoveryWorkflow', 'started-once-refilled-then-emptied');
  });

  it('a checkout at 30 h (the cart is emptied) stops reminder 3', async () => {
    const { email, cart, handle, at } = await idleCart();
    await at(24 * HOUR + 60_000);
    await expectMails(email, 2);
    await at(30 * HOUR);
    await carts.clear(cart.id);
    await at(73 * HOUR);
    expect(await handle.result()).toMatchObject({ sent: 2, stopped: 'emptied' });
    await expectMails(email, 2);
  });

  it('a cart change at 10 h restarts the clock', async () => {
    const { email, cart, sku, handle, at } = await idleCart();
    await at(HOUR + 60_000);
    await expectMails(email, 1);
    await at(10 * HOUR);
    const changed = await carts.setLine(cart.id, sku, 3);
    await handle.signal(cartChangedSignal, { version: changed?.version ?? 0, updatedAt: await env.currentTimeMs() });
    await at(10 * HOUR + 59 * 60_000);
    await expectMails(email, 1);
    await at(11 * HOUR + 60_000); // reminder 1 again, 1 h after the change, showing the new cart
    const afterChange = await expectMails(email, 2);
    expect(afterChange[1]?.text).toContain('3 × Test product');
    await at(24 * HOUR + 60_000); // the old clock's 24 h reminder is not sent
    await expectMails(email, 2);
    await at(34 * HOUR + 60_000); // 24 h after the change
    await expectMails(email, 3);
    await handle.terminate('test done');
  });

  it('an opt-out stops everything', async () => {
    const { email, handle, at } = await idleCart();
    await optOut(dbs.notification, email);
    await at(HOUR + 60_000);
    expect(await handle.result()).toMatchObject({ sent: 0, stopped: 'opted_out' });
    await expectMails(email, 0);
    await recordHistory(handle, 'cartRecoveryWorkflow', 'opted-out');
  });

  it('no reminder for a cart whose items are all out of stock', async () => {
    const { email, handle, at, sku } = await idleCart();
    const { setOnHand } = await import('../../db/stores/inventory');
    await setOnHand(dbs.inventory, sku, 0);
    await at(HOUR + 60_000);
    await expectMails(email, 0);
    await handle.terminate('test done');
  });

  it('a cart with a stranger\'s address (no prior order, no account) gets no reminder: the run ends at once, holding no timer', async () => {
    const { email, handle, at } = await idleCart({ known: false });
    expect(await handle.result()).toMatchObject({ sent: 0, stopped: 'unknown_address' });
    await at(73 * HOUR);
    await expectMails(email, 0);
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.timerStartedEventAttributes)).toBe(false);
    await recordHistory(handle, 'cartRecoveryWorkflow', 'unknown-address');
  });

  it('an address an account owns gets reminders without a prior order', async () => {
    const { email, handle, at } = await idleCart({ known: 'account' });
    await at(HOUR + 60_000);
    await expectMails(email, 1);
    await handle.terminate('test done');
  });

  it('each send checks the address again: refused for a stranger, sent once that address has placed an order', async () => {
    const { email, cart, handle } = await idleCart({ known: false });
    await handle.result();
    const activities = createActivities(deps);
    expect(await activities.sendCartReminder({ cartId: cart.id, version: cart.version, step: 0 })).toEqual({ status: 'stop', reason: 'unknown_address' });
    await placedOrderBefore(email);
    expect(await activities.sendCartReminder({ cartId: cart.id, version: cart.version, step: 0 })).toEqual({ status: 'sent' });
    await expectMails(email, 1);
  });

  it('a retried send does not deliver a second copy; the mail carries RFC 8058 one-click unsubscribe, GET shows a page, POST unsubscribes', async () => {
    const { email, cart, handle } = await idleCart();
    await handle.terminate('driven by hand');
    const activities = createActivities(deps);
    expect(await activities.sendCartReminder({ cartId: cart.id, version: cart.version, step: 0 })).toEqual({ status: 'sent' });
    expect(await activities.sendCartReminder({ cartId: cart.id, version: cart.version, step: 0 })).toEqual({ status: 'already_sent' });
    const [mail] = await expectMails(email, 1);
    const link = mail?.text.match(/No more reminders: (\S+)/)?.[1] ?? '';
    expect(link).toMatch(/^http:\/\/localhost:3000\/unsubscribe\/[A-Za-z0-9_-]+\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
    const headers = await mailHeaders(mail?.id ?? '');
    expect(headers['list-unsubscribe']).toBe(`<${link}>`);
    expect(headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    const path = new URL(link).pathname;

    const stack = await startStack();
    try {
      // a link scanner's GET: a confirm page whose form POSTs back, and nobody is unsubscribed
      const page = await stack.http('GET', path, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.body).toContain('<form method="post" action="">');
      expect(page.body).toContain(email);
      expect(await isOptedOut(dbs.notification, email)).toBe(false);

      // the mail client's one-click POST (RFC 8058: a form body), twice: idempotent
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: 'List-Unsubscribe=One-Click' });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ unsubscribed: true, email });
      }
      expect(await isOptedOut(dbs.notification, email)).toBe(true);

      const token = path.split('/')[2] ?? '';
      const [emailPart, expPart, mac] = token.split('.');
      const forged = [
        'abc',
        `${Buffer.from('other@example.com').toString('base64url')}.${expPart}.${mac}`, // another address
        `${emailPart}.${(parseInt(expPart ?? '0', 36) + 86_400).toString(36)}.${mac}`, // a later expiry
      ];
      for (const bad of forged) {
        const post = await fetch(`${stack.baseUrl}/unsubscribe/${bad}`, { method: 'POST', headers: { accept: 'application/json' } });
        const malformed = bad === 'abc';
        expect(post.status).toBe(malformed ? 400 : 404);
        expect(((await post.json()) as { error: { code: string } }).error.code).toBe(malformed ? 'invalid_request' : 'not_found');
        expect((await stack.http('GET', `/unsubscribe/${bad}`)).status).toBe(malformed ? 400 : 404);
      }
      expect(await isOptedOut(dbs.notification, 'other@example.com')).toBe(false);
      // a link from before one-click (no expiry) never unsubscribes on GET
      const legacy = await stack.http('GET', `/unsubscribe?token=${encodeURIComponent(`${emailPart}.${mac}`)}`);
      expect(legacy.status).toBe(400);
    } finally {
      await stack.close();
    }
  });
});
