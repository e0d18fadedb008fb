import { createHmac, randomBytes, randomInt } from 'node:crypto';
import Stripe from 'stripe';
import type { Logger } from '../../logger';
import type { GatewayEventSink } from './local-gateway';

export interface LocalWebhooksOptions {
  /** The endpoint (POST /webhooks/stripe of a running API). */
  url: string;
  /** The endpoint's signing secret (config.payment.webhookSecret). */
  secret: string;
  /** The share of events delivered twice (0–1), as Stripe may. */
  duplicates: number;
  /** Each delivery waits a random 0..maxDelayMs first, so deliveries reorder. */
  maxDelayMs: number;
  /** Attempts per delivery (non-2xx or no answer is retried with backoff); default 4. */
  attempts?: number;
  /** The first retry's wait (ms); each later one is four times longer; default 250. */
  backoffMs?: number;
  /** How long one attempt may take (ms); default 5 000. */
  timeoutMs?: number;
  logger?: Logger;
}

/**
 * Stripe's signature scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>">`,
 * keyed with the whole endpoint secret (whsec_…), as stripe.webhooks.constructEvent checks.
 */
export function signPayload(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

/**
 * The local gateway's webhooks: each event it emits becomes a Stripe-shaped, signed event
 * POSTed to the endpoint in the background (the gateway call never waits for it), maybe
 * twice, after a random delay, retried with backoff while the endpoint does not answer 2xx,
 * as Stripe delivers (at least once, in no particular order). An endpoint that is gone costs
 * a few failed attempts and a warning, nothing else.
 */
export class LocalWebhooks implements GatewayEventSink {
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: LocalWebhooksOptions) {
    this.attempts = options.attempts ?? 4;
    this.backoffMs = options.backoffMs ?? 250;
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  emit(type: string, object: Record<string, unknown>): void {
    if (this.closed) return;
    const event = {
      id: `evt_${randomBytes(12).toString('hex')}`,
      object: 'event',
      // the version the stripe package talks, as a Stripe endpoint created with it would receive
      api_version: Stripe.API_VERSION,
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: { object },
    };
    const payload = JSON.stringify(event);
    const copies = Math.random() < this.options.duplicates ? 2 : 1;
    for (let i = 0; i < copies; i += 1) this.track(this.deliver(event.id, type, payload));
  }

  /** Resolves once every delivery started so far has ended (delivered or given up). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Stops sending: new events are dropped, pending retries give up. */
  close(): void {
    this.closed = true;
  }

  private track(delivery: Promise<void>): void {
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }

  private async deliver(eventId: string, type: string, payload: string): Promise<void> {
    const { logger } = this.options;
    if (this.options.maxDelayMs > 0) await sleep(randomInt(this.options.maxDelayMs + 1));
    let lastProblem = '';
    for (let attempt = 1; attempt <= this.attempts && !this.closed; attempt += 1) {
      if (attempt > 1) await sleep(this.backoffMs * 4 ** (attempt - 2));
      try {
        const res = await fetch(this.options.url, {
          method: 'POST',
          // signed at each attempt, as Stripe does: a retry carries a fresh timestamp
          headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signPayload(payload, this.options.secret), 'user-agent': 'Orderly-LocalGateway/1.0' },
          body: payload,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        lastProblem = `HTTP ${res.status}`;
      } catch (err) {
        lastProblem = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      }
      logger?.debug({ eventId, type, attempt, problem: lastProblem }, 'local gateway webhook attempt failed');
    }
    logger?.warn({ eventId, type, attempts: this.attempts, problem: lastProblem }, 'local gateway webhook not delivered');
  }
}

/** A wait that never keeps the process alive on its own. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
