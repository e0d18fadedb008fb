import type { Databases } from '../db/client';
import type { StoredFailure } from '../db/schema/order';
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
 * The admission hold of POST /checkouts: the API holds the cart's stock under the checkout's
 * id (the hold id its run uses) before it starts the run. It is the same atomic hold as the
 * run's — one conditional UPDATE per SKU, all or nothing — so it is the only judge when stock
 * remains, and a flash sale's losers are refused here, in one transaction, instead of queueing
 * for a run behind the winners' payments. The run's holdStock then finds the hold (the same
 * lines: the cart is locked for the checkout before its lines are read) and goes on.
 *
 * A hold whose checkout ends without a run is given back by the API (returnAdmissionHold), or
 * else by the sweep at the hold's expiry, or by reconciliation.
 */
export async function admit(
  deps: { dbs: Pick<Databases, 'inventory'>; logger: Logger; holdTtlSeconds: number },
  checkoutId: string,
  lines: readonly SkuQuantity[],
): Promise<Admission> {
  const wanted = stockLines(lines);
  if (wanted.length === 0) return { kind: 'undecided' };
  try {
    const result = await holdStock(deps.dbs.inventory, checkoutId, wanted, deps.holdTtlSeconds);
    if (result.status === 'held') return { kind: 'held' };
    return { kind: 'refused', failure: { code: 'out_of_stock', message: OUT_OF_STOCK_MESSAGE, details: { items: result.shortages } } };
  } catch (err) {
    // no answer, or a hold of this id with other lines, or given back: the run's hold decides
    deps.logger.warn({ err, checkoutId }, 'admission hold not taken; the checkout run judges the stock');
    return { kind: 'undecided' };
  }
}

/**
 * A checkout fenced without a run (no run claimed it, and none can until the same request
 * reopens it) gives back whatever stock is held under its id: `returned`, so the reopened
 * checkout may hold again. Best effort: a hold left behind expires at its deadline.
 */
export async function returnAdmissionHold(deps: { dbs: Pick<Databases, 'inventory'>; logger: Logger }, checkoutId: string): Promise<void> {
  await releaseHold(deps.dbs.inventory, checkoutId, 'returned').catch((err: unknown) =>
    deps.logger.warn({ err, checkoutId }, 'admission hold not returned; it expires at its deadline'),
  );
}
