import { eq, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { payments, webhookInbox } from '../schema/payment';

/**
 * What became of an accepted event: the checkout's workflow was signalled, a follow-up
 * workflow was started, nothing was due (the checkout is no longer pending, or its workflow
 * no longer runs), or it waits for its checkout to exist (`unrouted`: not delivered, so the
 * next delivery of the same event routes it again).
 */
export type InboxOutcome = 'signalled_checkout' | 'follow_up_started' | 'checkout_closed' | 'workflow_not_running' | 'unrouted';

export interface InboxEvent {
  eventId: string;
  type: string;
  objectId: string | null;
  checkoutId: string | null;
}

export interface Delivery {
  outcome: InboxOutcome;
  /** False only for `unrouted`: a later delivery of the event tries again. */
  delivered: boolean;
}

export type Receipt = { duplicate: true; outcome: string | null } | { duplicate: false; outcome: InboxOutcome };

/**
 * Records the event under its id (the primary key) and runs `deliver` once, under the row's
 * lock, in the same transaction: a concurrent delivery of the same event waits on the lock
 * and then finds it delivered; an event already delivered is not delivered again; a
 * delivery that fails (or a process that dies before the commit) rolls the row back, so the
 * sender's retry delivers it. `deliver` must not use the database (it would need a second
 * connection from the pool while this one waits): route first, then call this.
 */
export async function receiveOnce(db: Db, event: InboxEvent, deliver: () => Promise<Delivery>): Promise<Receipt> {
  return db.transaction(async (tx) => {
    // one statement inserts the row or locks the existing one (a no-op update), and returns it
    const [row] = await tx
      .insert(webhookInbox)
      .values(event)
      .onConflictDoUpdate({ target: webhookInbox.eventId, set: { receivedAt: sql`${webhookInbox.receivedAt}` } })
      .returning();
    if (!row) throw new Error(`inbox row of ${event.eventId} vanished`);
    if (row.deliveredAt) return { duplicate: true as const, outcome: row.outcome };
    const done = await deliver();
    await tx
      .update(webhookInbox)
      .set({ outcome: done.outcome, checkoutId: event.checkoutId, objectId: event.objectId, deliveredAt: done.delivered ? sql`now()` : null })
      .where(eq(webhookInbox.eventId, event.eventId));
    return { duplicate: false as const, outcome: done.outcome };
  });
}

/** The checkout whose payment the gateway knows under this ref (payment.payments, read only). */
export async function checkoutOfGatewayRef(db: DbOrTx, gatewayRef: string): Promise<string | undefined> {
  const [row] = await db.select({ checkoutId: payments.checkoutId }).from(payments).where(eq(payments.gatewayRef, gatewayRef)).limit(1);
  return row?.checkoutId;
}
