import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../client';
import { outbox } from '../schema/notification';

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
