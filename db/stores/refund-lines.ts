import { and, eq, gt, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { orderEvents, orderLines, orders, refundLineClaims } from '../schema/order';

/** Units one refund takes from an order line; `restock` of them go back to stock. */
export interface RefundLineClaim {
  sku: string;
  quantity: number;
  restock: number;
}

/** A line that does not fit: what was asked and what is still refundable on it. */
export interface LineShortfall {
  sku: string;
  requested: number;
  refundable: number;
}

export type ClaimOutcome =
  /** The refund holds these units (claimed now, or by an earlier attempt of the same refund). */
  | { status: 'claimed'; lines: RefundLineClaim[] }
  /** The refund claimed before and gave its units back (it failed or was cancelled). */
  | { status: 'released'; lines: RefundLineClaim[] }
  /** Nothing was written: these lines have less left than asked. */
  | { status: 'exceeds_sold'; shortfalls: LineShortfall[] };

export interface ClaimRefundLinesInput {
  refundId: string;
  orderId: string;
  lines: RefundLineClaim[];
  /** Who asked and why: recorded once per refund as a `refund_requested` order event. */
  requestedBy?: { actor: { id: string; name: string }; reason: string };
}

class LinesDoNotFit extends Error {
  constructor(readonly shortfalls: LineShortfall[]) {
    super('refund lines exceed what is left');
  }
}
class ClaimedConcurrently extends Error {}

/** Same sku twice in one request counts once, summed. */
function normalize(lines: RefundLineClaim[]): RefundLineClaim[] {
  const bySku = new Map<string, RefundLineClaim>();
  for (const l of lines) {
    const seen = bySku.get(l.sku);
    bySku.set(l.sku, seen ? { sku: l.sku, quantity: seen.quantity + l.quantity, restock: seen.restock + l.restock } : { ...l });
  }
  return [...bySku.values()].filter((l) => l.quantity > 0).sort((a, b) => a.sku.localeCompare(b.sku));
}

async function storedClaims(db: DbOrTx, refundId: string) {
  return db.select().from(refundLineClaims).where(eq(refundLineClaims.refundId, refundId)).orderBy(refundLineClaims.sku);
}

/** What one refund claimed (empty when it never claimed). */
export async function refundClaims(db: DbOrTx, refundId: string): Promise<RefundLineClaim[]> {
  return (await storedClaims(db, refundId)).map((r) => ({ sku: r.sku, quantity: r.quantity, restock: r.restockQuantity }));
}

function outcomeOf(rows: (typeof refundLineClaims.$inferSelect)[]): ClaimOutcome {
  const lines = rows.map((r) => ({ sku: r.sku, quantity: r.quantity, restock: r.restockQuantity }));
  // a release zeroes the claim rows (a tombstone): the refund can never claim again
  return { status: rows.length > 0 && rows.every((r) => r.quantity === 0) ? 'released' : 'claimed', lines };
}

/** The event's reason names the actor and ends with the refund id (its once-only key). */
const eventSuffix = (refundId: string) => ` (refund ${refundId})`;

/**
 * Claims a refund's line quantities, once per refund, in one transaction. Each line is one
 * conditional UPDATE (`refunded + q <= quantity`, `restocked + r <= refunded + q`) backed by
 * the order_lines CHECK constraints, so concurrent refunds can never together refund or
 * restock more than was sold. If any line does not fit, nothing is written and the answer
 * says which lines and how much is left. A second claim of the same refund (a retried
 * request, the workflow's repair step) answers the stored claim and writes nothing.
 */
export async function claimRefundLines(db: Db, input: ClaimRefundLinesInput): Promise<ClaimOutcome> {
  const lines = normalize(input.lines);
  try {
    return await db.transaction(async (tx) => {
      // one claim at a time per order: keeps the once-only event exact (the bound is the UPDATE below)
      const [order] = await tx.select({ id: orders.id }).from(orders).where(eq(orders.id, input.orderId)).for('update');
      if (!order) throw new Error(`no order ${input.orderId}`);
      const existing = await storedClaims(tx, input.refundId);
      if (existing.length > 0) return outcomeOf(existing);

      const shortfalls: LineShortfall[] = [];
      for (const line of lines) {
        const [fits] = await tx
          .update(orderLines)
          .set({
            refundedQuantity: sql`${orderLines.refundedQuantity} + ${line.quantity}`,
            restockedQuantity: sql`${orderLines.restockedQuantity} + ${line.restock}`,
          })
          .where(
            and(
              eq(orderLines.orderId, input.orderId),
              eq(orderLines.sku, line.sku),
              sql`${orderLines.refundedQuantity} + ${line.quantity} <= ${orderLines.quantity}`,
              sql`${orderLines.restockedQuantity} + ${line.restock} <= ${orderLines.refundedQuantity} + ${line.quantity}`,
            ),
          )
          .returning({ sku: orderLines.sku });
        if (fits) continue;
        const [now] = await tx
          .select({ quantity: orderLines.quantity, refunded: orderLines.refundedQuantity })
          .from(orderLines)
          .where(and(eq(orderLines.orderId, input.orderId), eq(orderLines.sku, line.sku)));
        shortfalls.push({ sku: line.sku, requested: line.quantity, refundable: now ? now.quantity - now.refunded : 0 });
      }
      if (shortfalls.length > 0) throw new LinesDoNotFit(shortfalls);

      if (lines.length > 0) {
        const inserted = await tx
          .insert(refundLineClaims)
          .values(lines.map((l) => ({ refundId: input.refundId, orderId: input.orderId, sku: l.sku, quantity: l.quantity, restockQuantity: l.restock })))
          .onConflictDoNothing()
          .returning({ sku: refundLineClaims.sku });
        if (inserted.length !== lines.length) throw new ClaimedConcurrently();
      }
      if (input.requestedBy) await recordRefundRequested(tx, input.orderId, input.refundId, input.requestedBy);
      return { status: 'claimed' as const, lines };
    });
  } catch (err) {
    if (err instanceof LinesDoNotFit) return { status: 'exceeds_sold', shortfalls: err.shortfalls };
    if (err instanceof ClaimedConcurrently) return outcomeOf(await storedClaims(db, input.refundId));
    throw err;
  }
}

/** Appends `refund_requested` (who and why) to the order's history, once per refund. */
async function recordRefundRequested(tx: DbOrTx, orderId: string, refundId: string, by: NonNullable<ClaimRefundLinesInput['requestedBy']>): Promise<void> {
  const suffix = eventSuffix(refundId);
  const [seen] = await tx
    .select({ id: orderEvents.id })
    .from(orderEvents)
    .where(and(eq(orderEvents.orderId, orderId), eq(orderEvents.type, 'refund_requested'), sql`right(${orderEvents.reason}, ${suffix.length}) = ${suffix}`));
  if (seen) return;
  await tx.insert(orderEvents).values({ orderId, type: 'refund_requested', reason: `${by.reason}${suffix}`, actorId: by.actor.id, actorName: by.actor.name });
}

/**
 * Gives a failed refund's claimed units back, once: the claim rows are zeroed in the same
 * transaction, so a second release (or a late re-claim) finds nothing left to give.
 */
export async function releaseRefundLines(db: Db, refundId: string): Promise<RefundLineClaim[]> {
  return db.transaction(async (tx) => {
    const held = await tx
      .select()
      .from(refundLineClaims)
      .where(and(eq(refundLineClaims.refundId, refundId), gt(refundLineClaims.quantity, 0)))
      .orderBy(refundLineClaims.sku)
      .for('update');
    for (const claim of held) {
      await tx
        .update(orderLines)
        .set({
          refundedQuantity: sql`${orderLines.refundedQuantity} - ${claim.quantity}`,
          restockedQuantity: sql`${orderLines.restockedQuantity} - ${claim.restockQuantity}`,
        })
        .where(and(eq(orderLines.orderId, claim.orderId), eq(orderLines.sku, claim.sku)));
      await tx
        .update(refundLineClaims)
        .set({ quantity: 0, restockQuantity: 0 })
        .where(and(eq(refundLineClaims.refundId, refundId), eq(refundLineClaims.sku, claim.sku)));
    }
    return held.map((c) => ({ sku: c.sku, quantity: c.quantity, restock: c.restockQuantity }));
  });
}

/** An order line with what is left to refund on it. */
export interface RefundableLine {
  sku: string;
  quantity: number;
  unitPriceAmount: number;
  refunded: number;
  restocked: number;
}

export async function refundableLines(db: DbOrTx, orderId: string): Promise<RefundableLine[]> {
  return db
    .select({
      sku: orderLines.sku,
      quantity: orderLines.quantity,
      unitPriceAmount: orderLines.unitPriceAmount,
      refunded: orderLines.refundedQuantity,
      restocked: orderLines.restockedQuantity,
    })
    .from(orderLines)
    .where(eq(orderLines.orderId, orderId))
    .orderBy(orderLines.sku);
}
