import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { LocalWebhooks } from '../../activities/gateways/local-webhooks';
import { closedPort } from '../helpers/app';

const SECRET = 'whsec_local_webhooks_test';

interface Received {
  status: number;
  event: Stripe.Event;
  at: number;
}

/** An endpoint that verifies each delivery as Stripe's SDK does and answers `answers()` (200 by default). */
async function endpoint(answers: (n: number) => number = () => 200): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      n += 1;
      const status = answers(n);
      const event = Stripe.webhooks.constructEvent(Buffer.concat(chunks), req.headers['stripe-signature'] ?? '', SECRET, 300);
      received.push({ status, event, at: Date.now() });
      res.writeHead(status).end();
    });
  }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the local gateway webhooks (activities/gateways/local-webhooks.ts)', () => {
  it('posts a Stripe-shaped event that stripe.webhooks.constructEvent verifies with the endpoint secret', async () => {
    const ep = await endpoint();
    const hooks = new LocalWebhooks({ url: ep.url, secret: SECRET, duplicates: 0, maxDelayMs: 0 });
    try {
      hooks.emit('payment_intent.succeeded', { id: 'lpi_1', object: 'payment_intent', metadata: { reference: 'chk_x' } });
      await hooks.idle();
      expect(ep.received).toHaveLength(1);
      const { event } = ep.received[0]!;
      expect(event).toMatchObject({ object: 'event', livemode: false, type: 'payment_intent.succeeded', data: { object: { id: 'lpi_1', metadata: { reference: 'chk_x' } } } });
      expect(event.id).toMatch(/^evt_[0-9a-f]{24}$/);
      expect(typeof event.api_version).toBe('string');
      expect(Math.abs(event.created - Date.now() / 1000)).toBeLessThan(10);
    } finally {
      await ep.close();
    }
  });

  it('emit returns before anything is delivered (the gateway call never waits for the endpoint)', async () => {
    const ep = await endpoint();
    const hooks = new LocalWebhooks({ url: ep.url, secret: SECRET, duplicates: 0, maxDelayMs: 200 });
    try {
      hooks.emit('payment_intent.canceled', { id: 'lpi_2' });
      expect(ep.received).toHaveLength(0);
      await hooks.idle();
      expect(ep.received).toHaveLength(1);
    } finally {
      await ep.close();
    }
  });

  it('with duplicates = 1 every event arrives twice under the same id; with a delay they arrive reordered', async () => {
    const ep = await endpoint();
    const hooks = new LocalWebhooks({ url: ep.url, secret: SECRET, duplicates: 1, maxDelayMs: 300 });
    try {
      for (let i = 0; i < 20; i += 1) hooks.emit('payment_intent.succeeded', { id: `lpi_${i}` });
      await hooks.idle();
      expect(ep.received).toHaveLength(40);
      const ids = ep.received.map((r) => r.event.id);
      expect(new Set(ids).size).toBe(20);
      const order = ep.received.map((r) => Number((r.event.data.object as { id: string }).id.slice(4)));
      expect(order).not.toEqual([...order].sort((a, b) => a - b));
    } finally {
      await ep.close();
    }
  });

  it('retries a non-2xx answer with backoff until the endpoint accepts it, re-signed each time', async () => {
    const ep = await endpoint((n) => (n < 3 ? 500 : 200));
    const hooks = new LocalWebhooks({ url: ep.url, secret: SECRET, duplicates: 0, maxDelayMs: 0, backoffMs: 50 });
    try {
      hooks.emit('charge.refunded', { id: 'ch_1', payment_intent: 'lpi_1' });
      await hooks.idle();
      expect(ep.received.map((r) => r.status)).toEqual([500, 500, 200]);
      expect(new Set(ep.received.map((r) => r.event.id)).size).toBe(1);
      const [first, second, third] = ep.received.map((r) => r.at);
      expect(second! - first!).toBeGreaterThanOrEqual(45);
      expect(third! - second!).toBeGreaterThanOrEqual(190);
    } finally {
      await ep.close();
    }
  });

  it('an endpoint that is gone costs a few failed attempts and nothing else (no throw, no unhandled rejection)', async () => {
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const hooks = new LocalWebhooks({ url: `http://127.0.0.1:${await closedPort()}/webhooks/stripe`, secret: SECRET, duplicates: 1, maxDelayMs: 0, backoffMs: 10 });
      expect(() => hooks.emit('payment_intent.succeeded', { id: 'lpi_gone' })).not.toThrow();
      await hooks.idle();
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});
