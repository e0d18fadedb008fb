import { commitHold, HoldMismatch, HoldReleased, holdStock as holdStockInStore, keepHold, releaseExpiredHolds, releaseHold, type StockLine } from '../db/stores/holds';
import { anyAuthorizationMark } from '../db/stores/payments';
import type { ActivityDeps } from './deps';
import { businessFailure } from './failures';

export function inventoryActivities({ dbs, config }: ActivityDeps) {
  return {
    /** Holds every line's stock, all or nothing; out of stock is a business failure. */
    async holdStock(req: { holdId: string; lines: StockLine[] }): Promise<{ expiresAt: string }> {
      const hold = (unclaimed: boolean) => holdStockInStore(dbs.inventory, req.holdId, req.lines, config.checkout.holdTtlSeconds, { unclaimed });
      const result = await hold(false).catch(async (err: unknown) => {
        // An admission hold (usecases/admission-hold.ts) the sweep expired while the run waited
        // for a worker, before any authorization of the checkout was marked: nothing ever went on
        // from it, so it is judged afresh as the run's own (review r29b). Given back otherwise
        // (a compensation, a payment step under way): refused, as below.
        if (err instanceof HoldReleased && err.as === 'expired' && !(await anyAuthorizationMark(dbs.payment, req.holdId))) return hold(true);
        throw err;
      }).catch((err: unknown) => {
        // never retried: the same hold asked with other lines is a bug to surface, not to repeat
        if (err instanceof HoldMismatch) throw businessFailure('hold_mismatch', err.message);
        if (err instanceof HoldReleased) throw businessFailure('hold_mismatch', err.message);
        throw err;
      });
      if (result.status === 'out_of_stock') {
        throw businessFailure('out_of_stock', 'not enough stock for some items', { items: result.shortages });
      }
      return { expiresAt: result.expiresAt.toISOString() };
    },

    /**
     * Keeps the hold while the payment waits (3-D Secure), and checks it again once authorized:
     * a hold no longer held is out_of_stock before any order is placed (the saga voids the payment).
     */
    async keepStockHeld(req: { holdId: string; untilMs: number }): Promise<void> {
      if (!(await keepHold(dbs.inventory, req.holdId, new Date(req.untilMs)))) {
        throw businessFailure('out_of_stock', 'the stock hold lapsed while the payment waited');
      }
    },

    /** Compensation of holdStock. */
    async releaseStock(holdId: string): Promise<void> {
      await releaseHold(dbs.inventory, holdId);
    },

    /** Turns the hold into a sale exactly once. */
    async commitStock(holdId: string): Promise<void> {
      const result = await commitHold(dbs.inventory, holdId);
      if (result === 'out_of_stock') {
        throw businessFailure('out_of_stock', 'the stock hold expired and the stock was sold meanwhile');
      }
    },

    async releaseExpiredHolds(limit: number): Promise<number> {
      return releaseExpiredHolds(dbs.inventory, limit);
    },
  };
}
