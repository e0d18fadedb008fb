import { and, eq, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { localGatewayOperations as ops } from '../schema/payment';

/**
 * The local gateway's own ledger (schema local_gateway): every operation the processor it
 * plays has done, under the caller's idempotency key. Only activities/gateways/local-gateway.ts
 * uses it; our payment ledger is db/stores/payments.ts.
 */

export type LedgerOperation = typeof ops.$inferSelect;

/** A payment intent's status, named as Stripe names them. */
export type LedgerIntentStatus = 'requires_action' | 'requires_payment_method' | 'requires_capture' | 'succeeded' | 'canceled';

/** One payment as the ledger sees it: amounts summed per operation (declines do not count). */
export interface LedgerPayment {
  /** Undefined when no authorize call was ever made under this ref. */
  status?: LedgerIntentStatus;
  /** What the authorize call asked for (counted in `authorized` only once it is authorized). */
  requested: number;
  authorized: number;
  captured: number;
  refunded: number;
  voided: boolean;
  currency: string;
  declineCode?: string;
  reference?: string;
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

/** The first operation of a kind on one payment (its authorize, its authenticate). */
export async function findPaymentOperation(db: DbOrTx, ref: string, operation: string): Promise<LedgerOperation | undefined> {
  const [row] = await db.select().from(ops).where(and(eq(ops.paymentRef, ref), eq(ops.operation, operation))).limit(1);
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

/**
 * What the ledger says about one payment. An authorization that needs 3-D Secure counts
 * only once the customer passed it (an `authenticate` operation); a decline never counts.
 */
export async function ledgerPayment(db: DbOrTx, ref: string): Promise<LedgerPayment> {
  const rows = await db.select().from(ops).where(eq(ops.paymentRef, ref));
  const sum = (op: string) => rows.filter((r) => r.operation === op).reduce((n, r) => n + Number(r.amount), 0);
  const auth = rows.find((r) => r.operation === 'authorize');
  const authn = rows.find((r) => r.operation === 'authenticate');
  const voided = rows.some((r) => r.operation === 'void');
  const captured = sum('capture');
  let status: LedgerIntentStatus | undefined;
  let declineCode: string | undefined;
  let authorized = 0;
  if (auth) {
    if (auth.outcome === 'declined') {
      status = 'requires_payment_method';
      declineCode = auth.declineCode ?? 'card_declined';
    } else if (auth.outcome === 'requires_action' && !authn) {
      status = voided ? 'canceled' : 'requires_action';
    } else if (authn && authn.outcome !== 'authenticated') {
      status = voided ? 'canceled' : 'requires_payment_method';
      declineCode = authn.declineCode ?? 'authentication_failed';
    } else {
      authorized = Number(auth.amount);
      status = voided ? 'canceled' : captured > 0 ? 'succeeded' : 'requires_capture';
    }
  }
  return {
    status,
    requested: auth ? Number(auth.amount) : 0,
    authorized,
    captured,
    refunded: sum('refund'),
    voided,
    currency: auth?.currency ?? rows[0]?.currency ?? 'USD',
    declineCode,
    reference: auth?.reference ?? undefined,
  };
}
