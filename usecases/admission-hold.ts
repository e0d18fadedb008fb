import type { Databases } from '../db/client';
import type { Checkout, StoredFailure } from '../db/schema/order';
import { failureFlagged } from '../db/stores/checkouts';
import { holdStock, releaseHold } from '../db/stores/holds';
import { stockLines, type SkuQuantity } from '../domain/cart';
import type { Logger } from '../logger';
import { OUT_OF_STOCK_MESSAGE } from './sold-out';

/**
 * What the admission hold decided: `held` — the stock is held under the checkout's id (its
 * run's holdStock repeats it); `refused` — out of stock, with the hold's own refusal;
 * `undecided` — the hold did not answer (the run's holdStock judges, as without one).
 */
export type Admission = { kind: 'held' } | { kind: 'refused'; failure: StoredFailure } | { kind: 'undecided' };

/**
 * The admission hold of POST /checkouts: for a checkout no run has claimed, the API holds the
 * cart's stock under the checkout's id (the hold id its run uses) before it starts the run. It
 * is the same atomic hold as the run's — one conditional UPDATE per SKU, all or nothing — so
 * it is the only judge when stock remains, and a flash sale's losers are refused here, in one
 * transaction, instead of queueing for a run behind the winners' payments. The run's holdStock
 * then finds the hold (the same lines: the cart is locked for the checkout before its lines
 * are read) and goes on.
 *
 * The checkout may have an earlier hold: a duplicate's (the same hold, repeated), or one of
 * the same request sent before (a crash before its start, a fence whose cart was unlocked: it
 * may have expired since, or the cart changed). Since no run has claimed the checkout, that
 * one is replaced (holdStock `unclaimed`): given back and judged afresh in one transaction.
 *
 * The API never gives back a hold on a fence it may reopen (503 / checkout_in_progress with
 * `notStarted`): a stale give-back could land after the same request reopened the checkout and
 * its run placed an order on that hold (review r29a). Such a hold stays until the same request
 * takes it again, or the sweep at its expiry (reconciliation leaves it too: `reopenable`,
 * review r29b). A fence that is never reopened (out_of_stock) gives its hold back:
 * releaseFencedHold.
 */
export async function admit(
  deps: { dbs: Pick<Databases, 'inventory'>; logger: Logger; holdTtlSeconds: number },
  checkoutId: string,
  lines: readonly SkuQuantity[],
): Promise<Admission> {
  const wanted = stockLines(lines);
  if (wanted.length === 0) return { kind: 'undecided' };
  try {
    const result = await holdStock(deps.dbs.inventory, checkoutId, wanted, deps.holdTtlSeconds, { unclaimed: true });
    if (result.status === 'held') return { kind: 'held' };
    return { kind: 'refused', failure: { code: 'out_of_stock', message: OUT_OF_STOCK_MESSAGE, details: { items: result.shortages } } };
  } catch (err) {
    // no answer, or a committed hold of this id (a paid checkout): the run decides
    deps.logger.warn({ err, checkoutId }, 'admission hold not taken; the checkout run judges the stock');
    return { kind: 'undecided' };
  }
}

/** A row failed without a run and never to be reopened (fenced out_of_stock): no run can ever use a hold under its id. */
export const isFinalWithoutRun = (row: Checkout): boolean =>
  row.status === 'failed' && row.runId === null && !failureFlagged(row.failure, 'notStarted') && !failureFlagged(row.failure, 'closing');

/**
 * A checkout answered as fenced without a run, for good: whatever is held under its id goes
 * back (a duplicate's admission hold taken after the fence's own was refused, or an earlier
 * hold its refused replacement left standing). Best effort: reconciliation releases what is
 * left (a failed checkout without an order), the sweep at the hold's expiry.
 */
export async function releaseFencedHold(deps: { dbs: Pick<Databases, 'inventory'>; logger: Logger }, row: Checkout): Promise<void> {
  if (!isFinalWithoutRun(row)) return;
  await releaseHold(deps.dbs.inventory, row.checkoutId).catch((err: unknown) =>
    deps.logger.warn({ err, checkoutId: row.checkoutId }, 'hold of a fenced checkout not released; reconciliation or the sweep releases it'),
  );
}
