import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { randomId } from '../ids';
import { preparedStatements } from './prepared';
import { authorizationAttempts, payments, type Payment } from '../schema/payment';
import type { GatewayPayment } from '../../domain/payment';

export interface AuthorizationRecord {
  checkoutId: string;
  gateway: string;
  gatewayRef: string;
  amount: number;
  currency: string;
}

/** Records the gateway's authorization; one payment per checkout (unique constraint). */
export async function recordAuthorization(db: Db, a: AuthorizationRecord): Promise<Payment> {
  await db
    .insert(payments)
    .values({
      id: randomId('pay'),
      checkoutId: a.checkoutId,
      gateway: a.gateway,
      gatewayRef: a.gatewayRef,
      status: 'authorized',
      currency: a.currency,
      authorizedAmount: a.amount,
    })
    .onConflictDoNothing({ target: payments.checkoutId });
  const payment = await getPaymentByCheckout(db, a.checkoutId);
  if (!payment) throw new Error(`payment of checkout ${a.checkoutId} vanished`);
  return payment;
}

/**
 * What an authorization key's row says: sent (or about to be); given up by a compensation before
 * any was; or sent and voided by a compensation. Only `attempted` lets an authorize call go out.
 */
export type AuthorizationFate = 'attempted' | 'abandoned' | 'voided';

/**
 * An authorize call about to be sent: marks its key `attempted` (with the amount and when),
 * unless a compensation closed it already (`abandoned`, `voided`) — the fate that stands is
 * returned. One atomic statement: an authorize and a compensation (abandonAuthorization) cannot both win.
 */
export async function markAuthorizationAttempt(db: Db, a: { idempotencyKey: string; checkoutId: string; amount: number; currency: string }): Promise<AuthorizationFate> {
  const [row] = await db
    .insert(authorizationAttempts)
    .values({ idempotencyKey: a.idempotencyKey, checkoutId: a.checkoutId, fate: 'attempted', amount: a.amount, currency: a.currency })
    .onConflictDoUpdate({
      target: authorizationAttempts.idempotencyKey,
      set: { attemptedAt: sql`case when ${authorizationAttempts.fate} = 'attempted' then now() else ${authorizationAttempts.attemptedAt} end` },
    })
    .returning({ fate: authorizationAttempts.fate });
  return fateOf(a.idempotencyKey, row?.fate);
}

/** Whether any authorization of the checkout was ever marked (attempted, abandoned or voided). */
export async function anyAuthorizationMark(db: DbOrTx, checkoutId: string): Promise<boolean> {
  const rows = await db.select({ key: authorizationAttempts.idempotencyKey }).from(authorizationAttempts).where(eq(authorizationAttempts.checkoutId, checkoutId)).limit(1);
  return rows.length > 0;
}

export interface AuthorizationAttempt {
  fate: AuthorizationFate;
  gatewayRef: string | null;
  /** What the attempt asked for (for an `abandoned` row the compensation wrote: what it knew). */
  amount: number;
  currency: string;
}

/**
 * A compensation whose run never saw the authorize step: writes `abandoned` for the key unless
 * an attempt is marked, and returns the row that stands (an attempt, or the compensation's own close).
 */
export async function abandonAuthorization(db: Db, a: { idempotencyKey: string; checkoutId: string; amount: number; currency: string }): Promise<AuthorizationAttempt> {
  const [row] = await db
    .insert(authorizationAttempts)
    .values({ idempotencyKey: a.idempotencyKey, checkoutId: a.checkoutId, fate: 'abandoned', amount: a.amount, currency: a.currency })
    // a no-op update, so the row that stands is returned in the same round trip
    .onConflictDoUpdate({ target: authorizationAttempts.idempotencyKey, set: { fate: sql`${authorizationAttempts.fate}` } })
    .returning({
      fate: authorizationAttempts.fate,
      gatewayRef: authorizationAttempts.gatewayRef,
      amount: authorizationAttempts.amount,
      currency: authorizationAttempts.currency,
    });
  return { fate: fateOf(a.idempotencyKey, row?.fate), gatewayRef: row?.gatewayRef ?? null, amount: row?.amount ?? a.amount, currency: row?.currency ?? a.currency };
}

/**
 * A compensation settled an attempt with the gateway's word: `voided` (with the payment's id,
 * so a retried compensation finds it again) or `abandoned` (the gateway made no authorization
 * under the key). Either way no authorize is sent under this key afterwards.
 */
export async function closeAuthorizationAttempt(db: Db, idempotencyKey: string, fate: 'voided' | 'abandoned', gatewayRef?: string): Promise<void> {
  await db
    .update(authorizationAttempts)
    .set({ fate, ...(gatewayRef ? { gatewayRef } : {}) })
    .where(eq(authorizationAttempts.idempotencyKey, idempotencyKey));
}

function fateOf(idempotencyKey: string, fate: string | undefined): AuthorizationFate {
  if (fate !== 'attempted' && fate !== 'abandoned' && fate !== 'voided') throw new Error(`authorization ${idempotencyKey}: no fate recorded`);
  return fate;
}

/** The gateway's id of an attempted authorization that is not a recorded payment yet (3-D Secure). */
export async function noteAttemptedAuthorizationRef(db: Db, idempotencyKey: string, gatewayRef: string): Promise<void> {
  await db.update(authorizationAttempts).set({ gatewayRef }).where(eq(authorizationAttempts.idempotencyKey, idempotencyKey));
}

/** Read by every authorize, capture and finish of a checkout: prepared. */
const byCheckout = preparedStatements((db: DbOrTx) =>
  db.select().from(payments).where(eq(payments.checkoutId, sql.placeholder('checkoutId'))).prepare('payment_by_checkout'),
);

export async function getPaymentByCheckout(db: DbOrTx, checkoutId: string): Promise<Payment | undefined> {
  const [row] = await byCheckout(db).execute({ checkoutId });
  return row;
}

export async function getPaymentByOrder(db: DbOrTx, orderId: string): Promise<Payment | undefined> {
  const [row] = await db.select().from(payments).where(eq(payments.orderId, orderId));
  return row;
}

/** Payments keyed by checkout id, in one query. */
export async function getPaymentsByCheckouts(db: DbOrTx, checkoutIds: string[]): Promise<Map<string, Payment>> {
  if (checkoutIds.length === 0) return new Map();
  const rows = await db.select().from(payments).where(inArray(payments.checkoutId, checkoutIds));
  return new Map(rows.map((p) => [p.checkoutId, p]));
}

/** Authorized → captured, once; `captured <= authorized` is a table constraint. */
export async function recordCapture(db: Db, checkoutId: string, orderId: string, amount: number): Promise<void> {
  await db
    .update(payments)
    .set({ status: 'captured', capturedAmount: amount, orderId, updatedAt: sql`now()` })
    .where(and(eq(payments.checkoutId, checkoutId), eq(payments.status, 'authorized')));
}


function statusFrom(g: GatewayPayment): Payment['status'] {
  // nothing captured and nothing (any longer) held: a failed 3-D Secure, a cancelled intent
  if (g.captured === 0) return g.voided || g.authorized === 0 ? 'voided' : 'authorized';
  if (g.refunded >= g.captured) return 'refunded';
  return g.refunded > 0 ? 'partially_refunded' : 'captured';
}

/**
 * Corrects our ledger from the gateway's own answer (the gateway is the truth about money):
 * creates the row for an authorization we never recorded, and sets every amount and the
 * status to what the gateway says. Refund reservations still pending stay, within what is
 * left to refund.
 */
export async function syncPaymentFromGateway(db: Db, checkoutId: string, gateway: string, g: GatewayPayment): Promise<Payment> {
  const status = statusFrom(g);
  await db
    .insert(payments)
    .values({
      id: randomId('pay'),
      checkoutId,
      gateway,
      gatewayRef: g.ref,
      status,
      currency: g.currency,
      authorizedAmount: g.authorized,
      capturedAmount: g.captured,
      refundedAmount: g.refunded,
    })
    .onConflictDoUpdate({
      target: payments.checkoutId,
      set: {
        status,
        authorizedAmount: g.authorized,
        capturedAmount: g.captured,
        refundedAmount: g.refunded,
        refundPendingAmount: sql`greatest(0, least(${payments.refundPendingAmount}, ${g.captured - g.refunded}))`,
        updatedAt: sql`now()`,
      },
    });
  const payment = await getPaymentByCheckout(db, checkoutId);
  if (!payment) throw new Error(`payment of checkout ${checkoutId} vanished`);
  return payment;
}
