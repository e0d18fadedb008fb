import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { randomId } from '../ids';
import { payments, type Payment } from '../schema/payment';

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

export async function getPaymentByCheckout(db: DbOrTx, checkoutId: string): Promise<Payment | undefined> {
  const [row] = await db.select().from(payments).where(eq(payments.checkoutId, checkoutId));
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

export async function recordVoid(db: Db, checkoutId: string): Promise<void> {
  await db
    .update(payments)
    .set({ status: 'voided', updatedAt: sql`now()` })
    .where(and(eq(payments.checkoutId, checkoutId), eq(payments.status, 'authorized')));
}

/** Records a refund of everything still refundable (compensation of a captured checkout). */
export async function recordFullRefund(db: Db, checkoutId: string): Promise<void> {
  await db
    .update(payments)
    .set({ status: 'refunded', refundedAmount: sql`${payments.capturedAmount}`, updatedAt: sql`now()` })
    .where(and(eq(payments.checkoutId, checkoutId), eq(payments.refundPendingAmount, 0)));
}
