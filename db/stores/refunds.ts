import { and, eq, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { randomId } from '../ids';
import { payments, refunds, type Payment, type Refund } from '../schema/payment';
import { getPaymentByCheckout } from './payments';

/**
 * Refunds of a payment: each request reserves its amount on the payment row (so concurrent
 * refunds never exceed the capture), then succeeds or fails, moving or giving back the reservation.
 */

export class RefundExceedsCaptured extends Error {
  constructor(readonly refundable: number) {
    super(`at most ${refundable} can be refunded`);
  }
}

class DuplicateRefundKey extends Error {}

export interface OpenRefundInput {
  orderId: string;
  checkoutId: string;
  idempotencyKey: string;
  requestHash: string;
  /** Minor units; undefined means everything still refundable. */
  amount?: number;
  reason: string;
  lines?: { sku: string; quantity: number }[];
  restock: boolean;
}

/**
 * Records a refund request and reserves its amount in one transaction. The reservation is
 * one conditional UPDATE (`captured - refunded - pending >= amount`), so concurrent refunds
 * can never together exceed the capture; a refund that does not fit reserves nothing.
 */
export async function openRefund(db: Db, input: OpenRefundInput): Promise<{ refund: Refund; created: boolean }> {
  const findExisting = async (tx: DbOrTx) =>
    (await tx.select().from(refunds).where(and(eq(refunds.orderId, input.orderId), eq(refunds.idempotencyKey, input.idempotencyKey))))[0];
  try {
    return await db.transaction(async (tx) => {
      const existing = await findExisting(tx);
      if (existing) return { refund: existing, created: false };
      const payment = await getPaymentByCheckout(tx, input.checkoutId);
      if (!payment || payment.capturedAmount === 0) throw new RefundExceedsCaptured(0);
      const remaining = payment.capturedAmount - payment.refundedAmount - payment.refundPendingAmount;
      const amount = input.amount ?? remaining;
      if (amount <= 0) throw new RefundExceedsCaptured(Math.max(remaining, 0));
      const [reserved] = await tx
        .update(payments)
        .set({ refundPendingAmount: sql`${payments.refundPendingAmount} + ${amount}`, updatedAt: sql`now()` })
        .where(
          and(
            eq(payments.id, payment.id),
            sql`${payments.capturedAmount} - ${payments.refundedAmount} - ${payments.refundPendingAmount} >= ${amount}`,
          ),
        )
        .returning({ captured: payments.capturedAmount, refunded: payments.refundedAmount, pending: payments.refundPendingAmount });
      if (!reserved) {
        const [now] = await tx.select().from(payments).where(eq(payments.id, payment.id));
        throw new RefundExceedsCaptured(now ? now.capturedAmount - now.refundedAmount - now.refundPendingAmount : 0);
      }
      const [refund] = await tx
        .insert(refunds)
        .values({
          id: randomId('rfd'),
          paymentId: payment.id,
          orderId: input.orderId,
          idempotencyKey: input.idempotencyKey,
          requestHash: input.requestHash,
          status: 'pending',
          amount,
          currency: payment.currency,
          reason: input.reason,
          lines: input.lines,
          restock: input.restock,
        })
        .onConflictDoNothing()
        .returning();
      if (!refund) throw new DuplicateRefundKey();
      return { refund, created: true };
    });
  } catch (err) {
    if (!(err instanceof DuplicateRefundKey)) throw err;
    // a concurrent request with the same key won; its reservation stands, ours rolled back
    const existing = await findExisting(db);
    if (!existing) throw err;
    return { refund: existing, created: false };
  }
}

export async function getRefund(db: DbOrTx, refundId: string): Promise<Refund | undefined> {
  const [row] = await db.select().from(refunds).where(eq(refunds.id, refundId));
  return row;
}

export async function listRefunds(db: DbOrTx, orderId: string): Promise<Refund[]> {
  return db.select().from(refunds).where(eq(refunds.orderId, orderId)).orderBy(refunds.createdAt);
}

/**
 * Pending → succeeded, moving the reserved amount to refunded, once. Returns the payment.
 * The ledger may have been corrected from the gateway meanwhile (syncPaymentFromGateway
 * lowers or clears the reservation and may already count this refund as refunded): only what
 * is still pending moves, and refunded never exceeds the capture. The caller then re-reads
 * the gateway, which is the truth, and syncs (activities/refunds.ts recordRefund).
 */
export async function completeRefund(db: Db, refundId: string, gatewayRef: string): Promise<Payment> {
  return db.transaction(async (tx) => {
    const [done] = await tx
      .update(refunds)
      .set({ status: 'succeeded', gatewayRef, updatedAt: sql`now()` })
      .where(and(eq(refunds.id, refundId), eq(refunds.status, 'pending')))
      .returning();
    const refund = done ?? (await getRefund(tx, refundId));
    if (!refund) throw new Error(`no refund ${refundId}`);
    if (done) {
      await tx
        .update(payments)
        .set({
          refundPendingAmount: sql`greatest(0, ${payments.refundPendingAmount} - ${done.amount})`,
          refundedAmount: sql`least(${payments.capturedAmount}, ${payments.refundedAmount} + least(${payments.refundPendingAmount}, ${done.amount}))`,
          status: sql`case when ${payments.refundedAmount} + least(${payments.refundPendingAmount}, ${done.amount}) >= ${payments.capturedAmount} then 'refunded' else 'partially_refunded' end`,
          updatedAt: sql`now()`,
        })
        .where(eq(payments.id, done.paymentId));
    }
    const [payment] = await tx.select().from(payments).where(eq(payments.id, refund.paymentId));
    if (!payment) throw new Error(`no payment ${refund.paymentId}`);
    return payment;
  });
}

/** Pending → failed, giving the reserved amount back, once. */
export async function failRefund(db: Db, refundId: string, failure: { code: string; message: string }): Promise<void> {
  await db.transaction(async (tx) => {
    const [failed] = await tx
      .update(refunds)
      .set({ status: 'failed', failure, updatedAt: sql`now()` })
      .where(and(eq(refunds.id, refundId), eq(refunds.status, 'pending')))
      .returning();
    if (failed) {
      await tx
        .update(payments)
        .set({ refundPendingAmount: sql`greatest(0, ${payments.refundPendingAmount} - ${failed.amount})`, updatedAt: sql`now()` })
        .where(eq(payments.id, failed.paymentId));
    }
  });
}
