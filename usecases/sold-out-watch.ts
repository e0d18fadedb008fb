import type { Databases } from '../db/client';
import type { Checkout, StoredFailure } from '../db/schema/order';
import type { CartStore } from '../db/stores/cart';
import { abandonCheckout, failureFlagged, getCheckout, isClosingCheckout } from '../db/stores/checkouts';
import { stockLevels } from '../db/stores/inventory';
import { stockLines, type SkuQuantity } from '../domain/cart';
import type { Logger } from '../logger';
import type { UseCaseDeps } from './deps';
import { refusalOf, soldOutRefusal } from './sold-out';

/** How often the checkouts still waiting for their runs look at the stock (ms). */
export const SOLD_OUT_WATCH_MS = 150;

export interface SoldOutWatch {
  /** Resolves with the refusal once the watch has fenced the checkout (never otherwise). */
  refused: Promise<StoredFailure>;
  /** No more looks (a fence already under way still completes, with its unlock). */
  stop(): void;
}

interface Watcher {
  skus: string[];
  seen(levels: ReadonlyMap<string, number>): void;
}

/**
 * The stock looks of one API process: every SOLD_OUT_WATCH_MS while any checkout is watched,
 * one read of `on_hand - reserved` for the SKUs of all of them (however many requests wait,
 * a few reads a second), handed to each.
 */
class StockLooks {
  private readonly watchers = new Set<Watcher>();
  private timer: NodeJS.Timeout | undefined;
  private reading = false;

  constructor(
    private readonly inventory: Databases['inventory'],
    private readonly logger: Logger,
  ) {}

  add(watcher: Watcher): () => void {
    this.watchers.add(watcher);
    this.schedule();
    return () => this.watchers.delete(watcher);
  }

  private schedule() {
    if (this.timer || this.reading || this.watchers.size === 0) return;
    this.timer = setTimeout(() => void this.look(), SOLD_OUT_WATCH_MS).unref();
  }

  private async look() {
    this.timer = undefined;
    const watching = [...this.watchers];
    if (watching.length === 0) return;
    this.reading = true;
    try {
      const skus = [...new Set(watching.flatMap((w) => w.skus))];
      const levels = new Map([...(await stockLevels(this.inventory, skus))].map(([sku, l]) => [sku, l.available]));
      for (const w of watching) if (this.watchers.has(w)) w.seen(levels);
    } catch (err) {
      // a read that failed refuses nothing (the runs decide, as before)
      this.logger.warn({ err }, 'sold-out watch: could not read the stock');
    } finally {
      this.reading = false;
      this.schedule();
    }
  }
}

const perDatabase = new WeakMap<object, StockLooks>();

function looksOf(dbs: Pick<Databases, 'inventory'>, logger: Logger): StockLooks {
  let looks = perDatabase.get(dbs.inventory);
  if (!looks) {
    looks = new StockLooks(dbs.inventory, logger);
    perDatabase.set(dbs.inventory, looks);
  }
  return looks;
}

/**
 * A flash sale's late buyers: their checkouts passed the sold-out pre-check while units were
 * left, then waited in Temporal's queue behind the winners' workflow tasks while the last units
 * went — seconds, before their own hold could refuse them. While the request waits for its run,
 * the checkout is watched: the process reads the stock of every watched checkout's SKUs every
 * SOLD_OUT_WATCH_MS. When this checkout's lines are sold out, it fences the checkout row as the
 * API fences an unconfirmed start — failed `out_of_stock`, only if no run has claimed it
 * (abandonCheckout with no run seen) — and gives the cart's lock back. Fenced, the request is
 * answered 409 out_of_stock at once, as the pre-check would have answered it; a run that starts
 * later finds the row failed in claimCheckout and stops before holding or charging anything.
 * Not fenced: a run claimed it, so its hold judges, and the watch stops.
 * The read only ever refuses, as the pre-check's: when stock remains, the hold decides.
 */
export function watchSoldOut(
  { dbs, logger }: Pick<UseCaseDeps, 'dbs' | 'logger'>,
  carts: Pick<CartStore, 'get' | 'unlock'>,
  checkout: Pick<Checkout, 'checkoutId' | 'cartId'>,
  lines: readonly SkuQuantity[],
): SoldOutWatch {
  let stopped = false;
  let deciding = false;
  let remove: () => void = () => undefined;
  const stop = () => {
    stopped = true;
    remove();
  };
  const refused = new Promise<StoredFailure>((resolve) => {
    /** Sold out by the process's look: judged again on the lines this checkout locked, then fenced. */
    const decide = async (levels: ReadonlyMap<string, number>): Promise<void> => {
      // (a write between the request's read of the cart and its lock may have changed its lines)
      const cart = await carts.get(checkout.cartId);
      if (!cart || cart.checkoutId !== checkout.checkoutId || stopped) return;
      const known = stockLines(cart.lines).every((l) => levels.has(l.sku));
      const refusal = known ? refusalOf(cart.lines, levels) : await soldOutRefusal(dbs, logger, cart.lines);
      if (!refusal || stopped) return;
      let fenced: StoredFailure | undefined = refusal;
      if (!(await abandonCheckout(dbs.order, checkout.checkoutId, null, refusal))) {
        // Not pending or claimed: a run claimed it (its hold judges), or it was fenced already —
        // by a duplicate's watch, or by this one's own write whose reply was lost. Only a sold-out
        // fence counts: an unconfirmed start's fence (notStarted) can be reopened by the same
        // request, and its run must then not be taken for a queued one (review r28c).
        const row = await getCheckout(dbs.order, checkout.checkoutId);
        fenced =
          row && row.status === 'failed' && row.runId === null && row.failure?.code === 'out_of_stock' && !isClosingCheckout(row) && !failureFlagged(row.failure, 'notStarted')
            ? row.failure
            : undefined;
      }
      stop();
      if (!fenced) return;
      // (a lock that cannot be given back now lapses at its deadline: the row already refuses)
      await carts.unlock(checkout.cartId, checkout.checkoutId).catch((err: unknown) => logger.warn({ err, checkoutId: checkout.checkoutId }, 'sold-out watch: cart lock not given back'));
      resolve(fenced);
    };
    remove = looksOf(dbs, logger).add({
      skus: stockLines(lines).map((l) => l.sku),
      seen(levels) {
        if (stopped || deciding || !refusalOf(lines, levels)) return;
        deciding = true;
        decide(levels)
          .catch((err: unknown) => logger.warn({ err, checkoutId: checkout.checkoutId }, 'sold-out watch: could not fence the checkout'))
          .finally(() => (deciding = false));
      },
    });
  });
  return { refused, stop };
}
