import { createHmac, timingSafeEqual } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../client';
import { optOuts, outbox } from '../schema/notification';

export interface OutgoingMessage {
  idempotencyKey: string;
  kind: string;
  recipient: string;
  subject: string;
  text: string;
  html: string;
  payload?: Record<string, unknown>;
}

/**
 * Sends a message at most once per idempotency key. The outbox row is written first; a
 * retry (activity retry, workflow replay) finds it `sent` and does nothing. If the process
 * dies between the SMTP hand-off and the `sent` mark, the retry sends again: we prefer a
 * rare duplicate email to a lost order confirmation.
 */
export async function sendOnce(
  db: Db,
  send: (m: { to: string; subject: string; text: string; html: string }) => Promise<{ messageId: string }>,
  message: OutgoingMessage,
): Promise<{ sent: boolean; messageId: string | null }> {
  await db
    .insert(outbox)
    .values({
      idempotencyKey: message.idempotencyKey,
      kind: message.kind,
      recipient: message.recipient,
      subject: message.subject,
      payload: message.payload ?? {},
    })
    .onConflictDoNothing();
  const [row] = await db.select().from(outbox).where(eq(outbox.idempotencyKey, message.idempotencyKey));
  if (row?.status === 'sent') return { sent: false, messageId: row.messageId };
  const { messageId } = await send({ to: message.recipient, subject: message.subject, text: message.text, html: message.html });
  await db
    .update(outbox)
    .set({ status: 'sent', messageId, sentAt: sql`now()` })
    .where(and(eq(outbox.idempotencyKey, message.idempotencyKey), eq(outbox.status, 'pending')));
  return { sent: true, messageId };
}

// ---- cart-reminder opt-outs ----------------------------------------------------------

export async function optOut(db: Db, email: string): Promise<void> {
  await db.insert(optOuts).values({ email: email.toLowerCase() }).onConflictDoNothing();
}

export async function isOptedOut(db: Db, email: string): Promise<boolean> {
  const [row] = await db.select().from(optOuts).where(eq(optOuts.email, email.toLowerCase()));
  return row !== undefined;
}

const sign = (secret: string, email: string) => createHmac('sha256', secret).update(`unsubscribe:${email.toLowerCase()}`).digest();

/** An unsubscribe token: the email and an HMAC of it, so a link cannot be forged for another address. */
export function unsubscribeToken(secret: string, email: string): string {
  return `${Buffer.from(email.toLowerCase()).toString('base64url')}.${sign(secret, email).toString('base64url')}`;
}

/** The email a token was made for, or undefined when it is malformed or forged. */
export function verifyUnsubscribeToken(secret: string, token: string): string | undefined {
  const [emailPart, macPart, ...rest] = token.split('.');
  if (!emailPart || !macPart || rest.length > 0) return undefined;
  const email = Buffer.from(emailPart, 'base64url').toString('utf8');
  const given = Buffer.from(macPart, 'base64url');
  const expected = sign(secret, email);
  if (!email.includes('@') || given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return email;
}
