import { and, eq, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { localGatewayOperations as ops } from '../schema/payment';

/**
 * The local gateway's own ledger (schema local_gateway): every operation the processor it
 * plays has done, under the caller's idempotency key. Only activities/gateways/local-gateway.ts
 * uses it; our payment ledger is db/stores/payments.ts.
 */

export type LedgerOperation = typeof ops.$inferSelect;

/** One payment as the ledger sees it: amounts summed per operation (declines do not count). */
export interface LedgerPayment {
  authorized: number;
  captured: number;
  refunded: number;
  voided: boolean;
  currency: string;
}

/**
 * A processor checks and changes one payment atomically: operations on the same payment
 * run one at a time (a transaction-scoped advisory lock on its ref), so two refunds under
 * different keys can never together exceed the capture.
 */
export function onePaymentAtATime<T>(db: Db, ref: string, run: (tx: DbOrTx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`local-gateway:${ref}`}))`);
    return run(tx);
  });
}

export async function findOperation(db: DbOrTx, idempotencyKey: string): Promise<LedgerOperation | undefined> {
  const [row] = await db.select().from(ops).where(eq(ops.idempotencyKey, idempotencyKey));
  return row;
}

/**
 * Stores the operation under its key, or returns what that key stored first (`fresh` says
 * which); undefined only if the first row vanished in between.
 */
export async function recordOperation(
  db: DbOrTx,
  idempotencyKey: string,
  values: Omit<typeof ops.$inferInsert, 'idempotencyKey'>,
): Promise<(LedgerOperation & { fresh: boolean }) | undefined> {
  const [inserted] = await db.insert(ops).values({ idempotencyKey, ...values }).onConflictDoNothing().returning();
  if (inserted) return { ...inserted, fresh: true };
  const existing = await findOperation(db, idempotencyKey);
  return existing && { ...existing, fresh: false };
}

/** What the ledger says about one payment. */
export async function ledgerPayment(db: DbOrTx, ref: string): Promise<LedgerPayment> {
  const rows = await db
    .select({ operation: ops.operation, amount: sql<number>`sum(${ops.amount})::bigint`, currency: sql<string>`max(${ops.currency})` })
    .from(ops)
    .where(and(eq(ops.paymentRef, ref), sql`${ops.outcome} <> 'declined'`))
    .groupBy(ops.operation);
  const sum = (op: string) => Number(rows.find((r) => r.operation === op)?.amount ?? 0);
  const any = rows.find((r) => r.operation === 'authorize');
  return {
    authorized: sum('authorize'),
    captured: sum('capture'),
    refunded: sum('refund'),
    voided: rows.some((r) => r.operation === 'void'),
    currency: any?.currency ?? 'USD',
  };
}
