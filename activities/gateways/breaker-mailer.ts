import type { CircuitBreaker } from '../../db/stores/circuit-breakers';
import type { Mailer } from './mailer';

/** SMTP refused by its breaker: the message stays `pending` in the outbox and the activity retries later. */
export class MailCircuitOpenError extends Error {
  override name = 'MailCircuitOpenError';
  readonly circuitOpen = true;
  constructor(readonly retryAfterMs: number) {
    super(`smtp circuit is open: the message waits in the outbox (retry in ${Math.ceil(retryAfterMs / 1000)} s)`);
  }
}

/** nodemailer's codes for a server it could not reach or that dropped the conversation. */
const OUTAGE_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH']);

/** An SMTP outage (no server, a silent one, 421 "service not available"), not a refused recipient. */
export function isSmtpOutage(err: unknown): boolean {
  // Not `instanceof Error`: a socket error comes from Node's own realm, which a test sandbox does not share.
  if (typeof err !== 'object' || err === null) return false;
  const { code, responseCode } = err as { code?: unknown; responseCode?: unknown };
  return (typeof code === 'string' && OUTAGE_CODES.has(code)) || responseCode === 421;
}

/** The mailer behind the SMTP breaker. nodemailer keeps its own timeouts (a send abandoned early could still be delivered). */
export function withMailBreaker(mailer: Mailer, breaker: CircuitBreaker): Mailer {
  return {
    send: (message) =>
      breaker.run(() => mailer.send(message), {
        isOutage: isSmtpOutage,
        onOpen: (refusal) => new MailCircuitOpenError(refusal.retryAfterMs),
      }),
    close: () => mailer.close(),
  };
}
