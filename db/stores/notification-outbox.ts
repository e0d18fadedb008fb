import { randomBytes } from 'node:crypto';
import { and, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { outbox } from '../schema/notification';
import { preparedStatements } from './prepared';

export interface OutgoingMessage {
  idempotencyKey: string;
  kind: string;
  recipient: string;
  subject: string;
  text: string;
  html: string;
  payload?: Record<string, unknown>;
  /** Extra mail headers (List-Unsubscribe, List-Unsubscribe-Post). */
  headers?: Record<string, string>;
}

/**
 * How long a send holds its outbox row. It must outlast the SMTP call, or a second attempt
 * would take the row over while the first is still talking to the server. The mailer
 * (activities/gateways/mailer.ts) gives up on a silent server after connectionTimeout 5 s +
 * greetingTimeout 5 s + socketTimeout 10 s for each of EHLO, MAIL FROM, RCPT TO, DATA and the
 * end of the message: about 60 s at worst. 90 s leaves room for the `sent` mark. A holder
 * that dies delays its message by at most this much: every retry policy that sends mail
 * (followUp, cart recovery) keeps retrying well past 90 s.
 */
export const SEND_LEASE_MS = 90_000;

/**
 * Another attempt holds the outbox row and may be sending right now. Thrown as a plain
 * (retryable) error: the activity retries later and then finds the message sent, or finds
 * the lease expired (its holder died) and sends it.
 */
export class SendInProgressError extends Error {
  constructor(readonly idempotencyKey: string) {
    super(`another attempt is sending ${idempotencyKey}; retry later`);
    this.name = 'SendInProgressError';
  }
}

/**
 * Sends a message once per idempotency key, also when attempts overlap (an activity retried
 * after a timeout while its first attempt still runs, two workers):
 *
 * 1. the outbox row is written (`pending`) if it is not there yet;
 * 2. one conditional UPDATE claims it: only a `pending` row whose lease is null or expired
 *    (by the database clock) gets this attempt's fresh random token and
 *    `lease_until = now() + leaseMs`. Concurrent claims serialize on the row lock, so one wins;
 * 3. the winner alone hands the message to SMTP, then marks the row `sent` on condition that
 *    it still holds its token. A send that fails releases the lease (token-conditional) so a
 *    retry can send at once, and the error propagates.
 * An attempt that finds the row `sent` returns `{ sent: false }`; one that finds it leased by
 * another throws {@link SendInProgressError} without sending.
 *
 * The tradeoff, precisely: a duplicate is possible only when a holder hands the message to
 * SMTP and then never marks it `sent`: it crashes (or loses the database) between the
 * hand-off and the mark, or its SMTP call outlives the lease. Its lease then expires and a
 * later attempt sends again. We accept that rare duplicate rather than mark before sending,
 * which would turn the same crash into an order confirmation that is never sent. A failure
 * *reported* by the mailer is taken as "not sent" and released; if the server had in fact
 * accepted the message before the error (a reply lost on the wire), the retry duplicates it
 * for the same reason.
 */
/** A send's two writes (every order confirmation): prepared. */
const statements = preparedStatements((db: DbOrTx) => {
  const leaseUntil = sql`now() + ${sql.placeholder('leaseMs')}::int * interval '1 millisecond'`;
  return {
    claim: db
      .insert(outbox)
      .values({
        idempotencyKey: sql`${sql.placeholder('key')}`,
        kind: sql`${sql.placeholder('kind')}`,
        recipient: sql`${sql.placeholder('recipient')}`,
        subject: sql`${sql.placeholder('subject')}`,
        payload: sql`${sql.placeholder('payload')}::jsonb`,
        leaseToken: sql`${sql.placeholder('token')}`,
        leaseUntil,
      })
      .onConflictDoUpdate({
        target: outbox.idempotencyKey,
        set: { leaseToken: sql`excluded.lease_token`, leaseUntil: sql`excluded.lease_until` },
        setWhere: and(eq(outbox.status, 'pending'), or(isNull(outbox.leaseUntil), lte(outbox.leaseUntil, sql`now()`))),
      })
      .returning({ idempotencyKey: outbox.idempotencyKey })
      .prepare('outbox_claim'),
    markSent: db
      .update(outbox)
      .set({ status: 'sent', messageId: sql`${sql.placeholder('messageId')}`, sentAt: sql`now()`, leaseUntil: null })
      .where(and(eq(outbox.idempotencyKey, sql.placeholder('key')), eq(outbox.leaseToken, sql.placeholder('token')), eq(outbox.status, 'pending')))
      .prepare('outbox_mark_sent'),
  };
});

export async function sendOnce(
  db: Db,
  send: (m: { to: string; subject: string; text: string; html: string; headers?: Record<string, string> }) => Promise<{ messageId: string }>,
  message: OutgoingMessage,
  options: { leaseMs?: number } = {},
): Promise<{ sent: boolean; messageId: string | null }> {
  const key = message.idempotencyKey;
  const leaseMs = options.leaseMs ?? SEND_LEASE_MS;
  const token = randomBytes(16).toString('hex');
  // the row is written (first send) or found, and its lease taken when free, in one statement
  const [claimed] = await statements(db).claim.execute({
    key,
    kind: message.kind,
    recipient: message.recipient,
    subject: message.subject,
    payload: JSON.stringify(message.payload ?? {}),
    token,
    leaseMs: Math.ceil(leaseMs),
  });
  if (!claimed) {
    const [row] = await db.select({ status: outbox.status, messageId: outbox.messageId }).from(outbox).where(eq(outbox.idempotencyKey, key));
    if (row?.status === 'sent') return { sent: false, messageId: row.messageId };
    throw new SendInProgressError(key);
  }

  const held = and(eq(outbox.idempotencyKey, key), eq(outbox.leaseToken, token), eq(outbox.status, 'pending'));
  let messageId: string;
  try {
    ({ messageId } = await send({ to: message.recipient, subject: message.subject, text: message.text, html: message.html, ...(message.headers ? { headers: message.headers } : {}) }));
  } catch (err) {
    // If the release itself fails, the lease simply runs out; the send's error is the one to report.
    await db
      .update(outbox)
      .set({ leaseToken: null, leaseUntil: null })
      .where(held)
      .catch(() => undefined);
    throw err;
  }
  // Token-conditional: a holder whose lease ran out and was taken over does not overwrite the
  // new holder's row (the message went out twice then, the case described above).
  await statements(db).markSent.execute({ key, token, messageId });
  return { sent: true, messageId };
}

/** Which of these idempotency keys have their message sent (one query; for the cart-recovery sweep). */
export async function sentKeys(db: Db, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db
    .select({ key: outbox.idempotencyKey })
    .from(outbox)
    .where(and(inArray(outbox.idempotencyKey, keys), eq(outbox.status, 'sent')));
  return new Set(rows.map((r) => r.key));
}
