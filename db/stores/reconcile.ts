import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { holds, type HoldStatus } from '../schema/inventory';
import { checkouts, orders } from '../schema/order';
import { payments, refunds } from '../schema/payment';
import { failureFlaggedSql } from './checkouts';

/**
 * The read-only questions reconciliation asks, one function per context (each reads its own
 * schema only; the reconcile workflow puts the answers together). Writes go through the
 * contexts' own stores.
 */

/** Where a page of checkouts ends: created_at as PostgreSQL prints it (microseconds kept) and the id. */
export interface CheckoutCursor {
  createdAt: string;
  checkoutId: string;
}

export interface CheckoutToReconcile {
  checkoutId: string;
  workflowId: string;
  runId: string | null;
  status: 'pending' | 'placed' | 'failed';
  orderId: string | null;
  orderStatus: string | null;
  /**
   * Fenced by the API before any run claimed it and reopenable by the same request (failed,
   * `notStarted`, no run): its admission hold is that request's to take again, never
   * reconciliation's to release (a release read before a reopen would land on the reopened
   * checkout's hold). Absent in facts recorded before it existed.
   */
  reopenable?: boolean;
  cursor: CheckoutCursor;
}

/** Order context: checkouts created in [from, to], oldest first, after `after`, with their order's status. */
export async function checkoutsCreatedBetween(
  db: DbOrTx,
  window: { from: Date; to: Date; after?: CheckoutCursor; limit: number },
): Promise<CheckoutToReconcile[]> {
  const createdAt = sql<string>`${checkouts.createdAt}::text`;
  const rows = await db
    .select({
      checkoutId: checkouts.checkoutId,
      workflowId: checkouts.workflowId,
      runId: checkouts.runId,
      status: sql<'pending' | 'placed' | 'failed'>`case when ${checkouts.status} = 'failed' and ${failureFlaggedSql('closing')} then 'pending' else ${checkouts.status} end`,
      orderId: orders.id,
      orderStatus: orders.status,
      reopenable: sql<boolean>`(${checkouts.status} = 'failed' and ${checkouts.runId} is null and ${failureFlaggedSql('notStarted')})`,
      createdAt,
    })
    .from(checkouts)
    .leftJoin(orders, eq(orders.checkoutId, checkouts.checkoutId))
    .where(
      and(
        sql`${checkouts.createdAt} >= ${window.from.toISOString()}::timestamptz`,
        sql`${checkouts.createdAt} <= ${window.to.toISOString()}::timestamptz`,
        window.after ? sql`(${checkouts.createdAt}, ${checkouts.checkoutId}) > (${window.after.createdAt}::timestamptz, ${window.after.checkoutId})` : undefined,
      ),
    )
    .orderBy(asc(checkouts.createdAt), asc(checkouts.checkoutId))
    .limit(window.limit);
  return rows.map(({ createdAt: at, ...r }) => ({ ...r, cursor: { createdAt: at, checkoutId: r.checkoutId } }));
}

/** Inventory context: the statuses of each hold's lines, by hold id (the checkout id). */
export async function holdStatuses(db: DbOrTx, holdIds: string[]): Promise<Map<string, HoldStatus[]>> {
  const byHold = new Map<string, HoldStatus[]>();
  if (holdIds.length === 0) return byHold;
  const rows = await db.select({ holdId: holds.holdId, status: holds.status }).from(holds).where(inArray(holds.holdId, holdIds));
  for (const row of rows) byHold.set(row.holdId, [...(byHold.get(row.holdId) ?? []), row.status]);
  return byHold;
}

export interface PendingRefund {
  refundId: string;
  orderId: string;
  checkoutId: string;
  gatewayRef: string;
  amount: number;
  currency: string;
}

/** Payment context: refunds still pending that were opened in [from, to], with their payment's gateway ref. */
export async function pendingRefundsBetween(db: DbOrTx, window: { from: Date; to: Date; limit: number }): Promise<PendingRefund[]> {
  return db
    .select({
      refundId: refunds.id,
      orderId: refunds.orderId,
      checkoutId: payments.checkoutId,
      gatewayRef: payments.gatewayRef,
      amount: refunds.amount,
      currency: refunds.currency,
    })
    .from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(
      and(
        eq(refunds.status, 'pending'),
        sql`${refunds.createdAt} >= ${window.from.toISOString()}::timestamptz`,
        sql`${refunds.createdAt} <= ${window.to.toISOString()}::timestamptz`,
      ),
    )
    .orderBy(asc(refunds.createdAt))
    .limit(window.limit);
}
