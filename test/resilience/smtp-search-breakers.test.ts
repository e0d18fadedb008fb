import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { inArray } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { MailCircuitOpenError } from '../../activities/gateways/breaker-mailer';
import { outbox } from '../../db/schema/notification';
import { closedPort } from '../helpers/app';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A real SMTP server of the test's own, stopped and started at will on one port. */
class Catcher {
  readonly received: { to: string[]; subject: string }[] = [];
  private server: SMTPServer | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        stream.resume();
        stream.on('end', () => {
          this.received.push({ to: session.envelope.rcptTo.map((r) => r.address), subject: '' });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  to(email: string): number {
    return this.received.filter((m) => m.to.includes(email)).length;
  }
}

describe('SMTP down: confirmations wait in the outbox behind the SMTP breaker and go later, once', () => {
  let stack: Stack;
  let smtp: Catcher;

  beforeAll(async () => {
    smtp = new Catcher(await closedPort());
    stack = await startStack({
      worker: true,
      env: {
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        CHECKOUT_WAIT_MS: '30000',
        CIRCUIT_FAILURE_THRESHOLD: '3',
        CIRCUIT_WINDOW_MS: '30000',
        CIRCUIT_COOLDOWN_MS: '2000',
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await smtp?.stop();
  });

  it('orders are placed while SMTP is down; its breaker opens; each confirmation is sent exactly once after SMTP returns', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 50 });
    const emails = Array.from({ length: 4 }, () => `smtp-down-${randomBytes(5).toString('hex')}@example.com`);
    const orderIds: string[] = [];
    for (const [i, email] of emails.entries()) {
      const cart = await stack.http('POST', '/carts', { body: {} });
      await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 1 } });
      const res = await stack.http('POST', '/checkouts', {
        headers: { 'Idempotency-Key': `smtp-${i}` },
        body: { cartId: cart.body.id, email, paymentToken: 'tok_visa' },
      });
      expect(res.status).toBe(201);
      orderIds.push(res.body.orderId as string);
    }
    const keys = orderIds.map((id) => `order-confirmation:${id}`);

    // the breaker opens after 3 refused connections; the messages wait in the outbox
    await eventually(async () => ((await stack.http('GET', '/health')).body.breakers?.smtp?.state === 'open' ? true : undefined), 20_000, 'the SMTP breaker open');
    const health = await stack.http('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('degraded');
    const outboxRows = () => stack.dbs.notification.select().from(outbox).where(inArray(outbox.idempotencyKey, keys));
    const pending = await eventually(async () => {
      const rows = await outboxRows();
      return rows.length === keys.length ? rows : undefined;
    }, 20_000, 'every confirmation in the outbox');
    expect(pending.map((r) => r.status)).toEqual(keys.map(() => 'pending'));
    // while open, a send fails at once instead of waiting on the network
    const started = Date.now();
    await expect(stack.activityDeps?.mailer.send({ to: 'x@example.com', subject: 's', text: 't', html: 'h' })).rejects.toBeInstanceOf(MailCircuitOpenError);
    expect(Date.now() - started).toBeLessThan(200);

    await smtp.start();
    await eventually(async () => (emails.every((e) => smtp.to(e) >= 1) ? true : undefined), 90_000, 'every confirmation delivered');
    await sleep(3_000);
    for (const email of emails) expect(smtp.to(email)).toBe(1);
    const rows = await outboxRows();
    expect(rows.map((r) => r.status)).toEqual(keys.map(() => 'sent'));
    expect((await stack.http('GET', '/health')).body.breakers.smtp.state).toBe('closed');
  }, 150_000);
});

describe('Elasticsearch unreachable: search answers from PostgreSQL, fast once its breaker is open', () => {
  /** A node that accepts connections and never answers: the slow downstream a breaker is for. */
  let silent: net.Server;
  const sockets = new Set<net.Socket>();
  let stack: Stack;

  beforeAll(async () => {
    silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    stack = await startStack({
      env: { ELASTICSEARCH_URL: `http://127.0.0.1:${port}`, SEARCH_TIMEOUT_MS: '2000', CIRCUIT_FAILURE_THRESHOLD: '3', CIRCUIT_SEARCH_COOLDOWN_MS: '60000' },
    });
  });
  afterAll(async () => {
    await stack?.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('the first searches wait out the timeout, then the breaker opens and every search answers from PostgreSQL at once', async () => {
    const name = `Breaker lamp ${randomBytes(3).toString('hex')}`;
    const sku = await createProduct(stack.dbs, { name, priceAmount: 2500, onHand: 3 });
    const timed = async (path: string) => {
      const started = Date.now();
      const res = await stack.http('GET', path);
      return { res, ms: Date.now() - started };
    };
    const before = [];
    for (let i = 0; i < 3; i++) before.push(await timed(`/products?q=${encodeURIComponent(name)}`));
    for (const b of before) {
      expect(b.res.status).toBe(200);
      expect(b.res.headers.get('x-search-engine')).toBe('postgres');
      expect(b.ms).toBeGreaterThanOrEqual(1_900);
    }
    const health = await stack.http('GET', '/health');
    expect(health.body).toMatchObject({ status: 'degraded', breakers: { search: { state: 'open' } } });

    // one after another: each is PostgreSQL's time alone, none waits on the silent node
    const after = [];
    for (let i = 0; i < 10; i++) after.push(await timed(`/products?q=${encodeURIComponent(name)}`));
    for (const a of after) {
      expect(a.res.status).toBe(200);
      expect(a.res.headers.get('x-search-engine')).toBe('postgres');
      expect(a.res.body.items.map((p: { sku: string }) => p.sku)).toContain(sku);
      expect(a.ms).toBeLessThan(1_000);
    }
    const suggest = await timed(`/products/suggest?q=${encodeURIComponent(name.slice(0, 8))}`);
    expect(suggest.res.headers.get('x-search-engine')).toBe('postgres');
    expect(suggest.ms).toBeLessThan(1_000);
  });

  it('with ELASTICSEARCH_URL at a closed port the same holds', async () => {
    const closed = await startStack({ env: { ELASTICSEARCH_URL: `http://127.0.0.1:${await closedPort()}`, CIRCUIT_FAILURE_THRESHOLD: '2' } });
    try {
      for (let i = 0; i < 3; i++) expect((await closed.http('GET', '/products?q=anything')).headers.get('x-search-engine')).toBe('postgres');
      expect((await closed.http('GET', '/health')).body.breakers.search.state).toBe('open');
    } finally {
      await closed.close();
    }
  });
});
