import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import { stockLines } from '../../domain/cart';
import type { Db, DbOrTx } from '../client';
import { holds, restocks, stock, type HoldStatus } from '../schema/inventory';

export interface StockLine {
  sku: string;
  quantity: number;
}

export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

export type HoldResult = { status: 'held'; expiresAt: Date } | { status: 'out_of_stock'; shortages: Shortage[] };

class OutOfStock extends Error {
  constructor(readonly skus: Map<string, number>) {
    super('out of stock');
  }
}

/** A hold id asked again with other lines than its first time: refused, never re-reserved. */
export class HoldMismatch extends Error {
  constructor(readonly holdId: string) {
    super(`stock hold ${holdId} exists with other lines`);
    this.name = 'HoldMismatch';
  }
}

/**
 * A hold id asked again after its stock was given back — released by its checkout's
 * compensation, or expired by the sweep (the stock may be sold to someone else since): refused,
 * never re-reserved, never reported held. Only a repeat of the step asks again (a new run of a
 * checkout whose earlier run was ended mid-compensation, or a re-run after a lost workflow
 * task); it must not go on to place and capture on stock it no longer holds.
 */
export class HoldReleased extends Error {
  constructor(
    readonly holdId: string,
    readonly as: 'released' | 'expired' = 'released',
  ) {
    super(as === 'expired' ? `stock hold ${holdId} expired (the sweep gave its stock back)` : `stock hold ${holdId} was released (its checkout compensated)`);
    this.name = 'HoldReleased';
  }
}

function sameLines(existing: StockLine[], wanted: StockLine[]): boolean {
  if (existing.length !== wanted.length) return false;
  const have = new Map(existing.map((h) => [h.sku, h.quantity]));
  return wanted.every((l) => have.get(l.sku) === l.quantity);
}

/** Sums lines of the same SKU and orders them by SKU, so concurrent holds lock rows in one order. */
function normalize(lines: StockLine[]): StockLine[] {
  return stockLines(lines).sort((a, b) => (a.sku < b.sku ? -1 : 1));
}

/** Reserves every line (one conditional UPDATE per SKU, never read-then-write); a short SKU throws OutOfStock. */
async function reserve(tx: DbOrTx, wanted: StockLine[]): Promise<void> {
  const short = new Map<string, number>();
  for (const line of wanted) {
    const updated = await tx
      .update(stock)
      .set({ reserved: sql`${stock.reserved} + ${line.quantity}`, updatedAt: sql`now()` })
      .where(and(eq(stock.sku, line.sku), sql`${stock.onHand} - ${stock.reserved} >= ${line.quantity}`))
      .returning({ sku: stock.sku });
    if (updated.length === 0) short.set(line.sku, line.quantity);
  }
  if (short.size > 0) throw new OutOfStock(short);
}

/**
 * Holds stock for every line, all or nothing. Each SKU is reserved by one conditional
 * UPDATE (`on_hand - reserved >= qty`), never read-then-write. The hold rows go in first:
 * a retry racing a timed-out attempt blocks on their primary key and then finds them, so
 * one hold id never reserves twice; a repeat with other lines is refused (HoldMismatch)
 * and rolls back whatever rows it inserted.
 *
 * `unclaimed` (the API's admission hold, usecases/admission-hold.ts, for a checkout no run has
 * claimed): the checkout's earlier hold is replaced instead — given back (the sweep expired
 * it) or with other lines (the cart changed while a fenced checkout's cart was unlocked) — in
 * this one transaction: what it reserved goes back, and the lines asked now are judged
 * afresh. A committed hold is never replaced. `unclaimed` holds of one id are taken one at a
 * time (a transaction-scoped advisory lock): two replacements side by side would each see the
 * old rows gone and reserve again (review r29b). Any repeat renews a held hold's deadline.
 */
export async function holdStock(db: Db, holdId: string, lines: StockLine[], ttlSeconds: number, options: { unclaimed?: boolean } = {}): Promise<HoldResult> {
  const wanted = normalize(lines);
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const rows = wanted.map((l) => ({ holdId, sku: l.sku, quantity: l.quantity, expiresAt }));
  try {
    return await db.transaction(async (tx) => {
      if (options.unclaimed) await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`hold:${holdId}`}, 0))`);
      const inserted = await tx.insert(holds).values(rows).onConflictDoNothing().returning({ sku: holds.sku });
      if (inserted.length < wanted.length) {
        if (inserted.length === 0) {
          // A repeat (the run's step after the admission's hold, a retry, the same request again):
          // its held lines last from now. A run that got its worker late must not find its hold
          // expired by the next sweep while it pays (review r29c); the sweep closes only lines
          // still past their deadline.
          const kept = await tx
            .update(holds)
            .set({ expiresAt: sql`greatest(${holds.expiresAt}, ${expiresAt.toISOString()}::timestamptz)`, updatedAt: sql`now()` })
            .where(and(eq(holds.holdId, holdId), eq(holds.status, 'held')))
            .returning({ sku: holds.sku, quantity: holds.quantity, expiresAt: holds.expiresAt });
          if (kept.length > 0 && sameLines(kept, wanted)) return { status: 'held' as const, expiresAt: kept[0]?.expiresAt ?? expiresAt };
        }
        const mine = tx.select().from(holds).where(eq(holds.holdId, holdId));
        const existing = options.unclaimed ? await mine.for('update') : await mine;
        if (options.unclaimed && existing.every((h) => h.status !== 'committed')) {
          const insertedNow = new Set(inserted.map((r) => r.sku));
          await unreserve(tx, existing.filter((h) => h.status === 'held' && !insertedNow.has(h.sku)));
          await tx.delete(holds).where(eq(holds.holdId, holdId));
          await tx.insert(holds).values(rows);
          await reserve(tx, wanted);
          return { status: 'held' as const, expiresAt };
        }
        // A repeat of this hold: it must ask for exactly the lines it asked for the first time
        // (some lines new and some not is another line set too).
        if (inserted.length > 0 || !sameLines(existing, wanted)) throw new HoldMismatch(holdId);
        // Held (a repeat) or committed (sold to this checkout) stand; any other state gave the stock back.
        const givenBack = existing.find((h) => h.status !== 'held' && h.status !== 'committed');
        if (givenBack) throw new HoldReleased(holdId, givenBack.status === 'expired' ? 'expired' : 'released');
        return { status: 'held' as const, expiresAt: existing[0]?.expiresAt ?? expiresAt };
      }
      await reserve(tx, wanted);
      return { status: 'held' as const, expiresAt };
    });
  } catch (err) {
    if (!(err instanceof OutOfStock)) throw err;
    const rows = await db
      .select({ sku: stock.sku, available: sql<number>`${stock.onHand} - ${stock.reserved}` })
      .from(stock)
      .where(inArray(stock.sku, [...err.skus.keys()]));
    const available = new Map(rows.map((r) => [r.sku, Number(r.available)]));
    return {
      status: 'out_of_stock',
      shortages: [...err.skus].map(([sku, requested]) => ({ sku, requested, available: available.get(sku) ?? 0 })),
    };
  }
}

/**
 * Moves a hold from `held` to `to`, returning what it had reserved. Exactly once per hold line.
 * `pastDeadline`: only lines past their deadline when the statement runs (the sweep: a hold
 * it read as expired and that was kept or taken again since is left alone).
 */
async function closeHold(tx: DbOrTx, holdId: string, to: Exclude<HoldStatus, 'held'>, pastDeadline = false): Promise<StockLine[]> {
  return tx
    .update(holds)
    .set({ status: to, updatedAt: sql`now()` })
    .where(and(eq(holds.holdId, holdId), eq(holds.status, 'held'), pastDeadline ? lt(holds.expiresAt, sql`now()`) : undefined))
    .returning({ sku: holds.sku, quantity: holds.quantity });
}

/** Gives back what closed hold lines had reserved. */
async function unreserve(tx: DbOrTx, lines: StockLine[]): Promise<void> {
  for (const line of lines) {
    await tx
      .update(stock)
      .set({ reserved: sql`${stock.reserved} - ${line.quantity}`, updatedAt: sql`now()` })
      .where(eq(stock.sku, line.sku));
  }
}

/** Gives held stock back. Idempotent: a released, expired or committed hold is left alone. */
export async function releaseHold(db: Db, holdId: string, as: 'released' | 'expired' = 'released', pastDeadline = false): Promise<number> {
  return db.transaction(async (tx) => {
    const lines = await closeHold(tx, holdId, as, pastDeadline);
    await unreserve(tx, lines);
    return lines.length;
  });
}

/**
 * Keeps a live hold until at least `until` (a payment waiting for 3-D Secure must not lose
 * its stock to the sweep). False when the hold is no longer held (released, expired, committed).
 */
export async function keepHold(db: DbOrTx, holdId: string, until: Date): Promise<boolean> {
  const kept = await db
    .update(holds)
    .set({ expiresAt: sql`greatest(${holds.expiresAt}, ${until.toISOString()}::timestamptz)`, updatedAt: sql`now()` })
    .where(and(eq(holds.holdId, holdId), eq(holds.status, 'held')))
    .returning({ sku: holds.sku });
  return kept.length > 0;
}

export type CommitResult = 'committed' | 'already_committed' | 'out_of_stock';

/**
 * Turns a hold into a sale exactly once. A hold the sweep already expired is re-taken
 * with the same conditional update; if the stock is gone meanwhile, the sale fails.
 */
export async function commitHold(db: Db, holdId: string): Promise<CommitResult> {
  try {
    return await db.transaction(async (tx) => {
      const lines = await closeHold(tx, holdId, 'committed');
      for (const line of lines) {
        await tx
          .update(stock)
          .set({
            onHand: sql`${stock.onHand} - ${line.quantity}`,
            reserved: sql`${stock.reserved} - ${line.quantity}`,
            sold: sql`${stock.sold} + ${line.quantity}`,
            updatedAt: sql`now()`,
          })
          .where(eq(stock.sku, line.sku));
      }
      if (lines.length > 0) return 'committed' as const;

      const existing = await tx.select().from(holds).where(eq(holds.holdId, holdId)).for('update');
      if (existing.length === 0) throw new Error(`no stock hold ${holdId}`);
      if (existing.every((h) => h.status === 'committed')) return 'already_committed' as const;
      const retake = existing.filter((h) => h.status === 'expired');
      if (retake.length !== existing.length) throw new Error(`stock hold ${holdId} was released`);
      for (const line of retake) {
        const sold = await tx
          .update(stock)
          .set({
            onHand: sql`${stock.onHand} - ${line.quantity}`,
            sold: sql`${stock.sold} + ${line.quantity}`,
            updatedAt: sql`now()`,
          })
          .where(and(eq(stock.sku, line.sku), sql`${stock.onHand} - ${stock.reserved} >= ${line.quantity}`))
          .returning({ sku: stock.sku });
        if (sold.length === 0) throw new OutOfStock(new Map([[line.sku, line.quantity]]));
      }
      await tx.update(holds).set({ status: 'committed', updatedAt: sql`now()` }).where(eq(holds.holdId, holdId));
      return 'committed' as const;
    });
  } catch (err) {
    if (err instanceof OutOfStock) return 'out_of_stock';
    throw err;
  }
}

/** Releases up to `limit` holds past their expiry; returns how many holds it released. */
export async function releaseExpiredHolds(db: Db, limit: number): Promise<number> {
  const expired = await db
    .selectDistinct({ holdId: holds.holdId })
    .from(holds)
    .where(and(eq(holds.status, 'held'), lt(holds.expiresAt, sql`now()`)))
    .limit(limit);
  let released = 0;
  for (const { holdId } of expired) {
    if ((await releaseHold(db, holdId, 'expired', true)) > 0) released++;
  }
  return released;
}

/**
 * Returns refunded units to stock exactly once per (restock id, sku): the restock row is
 * the idempotency key, and stock only moves when that row is new. Only units that were sold
 * come back: `sold` is not clamped, so restocking more than was sold breaks the `sold >= 0`
 * CHECK and fails loudly (nothing is written) instead of minting stock.
 */
export async function restock(db: Db, restockId: string, lines: StockLine[]): Promise<number> {
  return db.transaction(async (tx) => {
    let returned = 0;
    for (const line of normalize(lines)) {
      const [fresh] = await tx.insert(restocks).values({ restockId, sku: line.sku, quantity: line.quantity }).onConflictDoNothing().returning();
      if (!fresh) continue;
      await tx
        .update(stock)
        .set({ onHand: sql`${stock.onHand} + ${line.quantity}`, sold: sql`${stock.sold} - ${line.quantity}`, updatedAt: sql`now()` })
        .where(eq(stock.sku, line.sku));
      returned += line.quantity;
    }
    return returned;
  });
}
