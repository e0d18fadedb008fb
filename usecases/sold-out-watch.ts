import type { Checkout, StoredFailure } from '../db/schema/order';
import type { CartStore } from '../db/stores/cart';
import { abandonCheckout } from '../db/stores/checkouts';
import type { SkuQuantity } from '../domain/cart';
import type { UseCaseDeps } from './deps';
import { soldOutReadings, soldOutRefusal } from './sold-out';

/** How often a checkout whose run has not answered yet looks at the stock again (ms). */
export const SOLD_OUT_WATCH_MS = 150;

export interface SoldOutWatch {
  /** Resolves with the refusal once the watch has fenced the checkout (never otherwise). */
  refused: Promise<StoredFailure>;
  /** No more looks (a fence already under way still completes, with its unlock). */
  stop(): void;
}

/**
 * A flash sale's late buyers: their checkouts passed the sold-out pre-check while units were
 * left, then waited in Temporal's queue behind the winners' workflow tasks while the last units
 * went — seconds, before their own hold could refuse them. While the request waits for its run,
 * this looks at the stock every SOLD_OUT_WATCH_MS with the pre-check's read (the same readings
 * and the same answer). When the checkout's lines are sold out, it fences the checkout row as
 * the API fences an unconfirmed start — failed `out_of_stock`, only if no run has claimed it
 * (abandonCheckout with no run seen) — and gives the cart's lock back. Fenced, the request is
 * answered 409 out_of_stock at once, as the pre-check would have answered it; a run that starts
 * later finds the row failed in claimCheckout and stops before holding or charging anything.
 * Not fenced: a run claimed it, so its hold judges, and the watch stops.
 * The read only ever refuses, as the pre-check's: when stock remains, the hold decides.
 */
export function watchSoldOut(
  { dbs, logger, config }: Pick<UseCaseDeps, 'dbs' | 'logger' | 'config'>,
  carts: Pick<CartStore, 'get' | 'unlock'>,
  checkout: Pick<Checkout, 'checkoutId' | 'cartId'>,
  lines: readonly SkuQuantity[],
): SoldOutWatch {
  const readings = soldOutReadings(dbs, config.checkout.soldOutCacheMs);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const refused = new Promise<StoredFailure>((resolve) => {
    const look = async (): Promise<boolean> => {
      if (!(await soldOutRefusal(dbs, logger, lines, readings)) || stopped) return false;
      // judged again on the lines this checkout locked (a write between the request's read of the cart and its lock may have changed them)
      const cart = await carts.get(checkout.cartId);
      if (!cart || cart.checkoutId !== checkout.checkoutId) return false;
      const refusal = await soldOutRefusal(dbs, logger, cart.lines, readings);
      if (!refusal || stopped) return false;
      if (!(await abandonCheckout(dbs.order, checkout.checkoutId, null, refusal))) {
        // a run claimed it: its hold judges
        stopped = true;
        return false;
      }
      await carts.unlock(checkout.cartId, checkout.checkoutId);
      resolve(refusal);
      return true;
    };
    const tick = () => {
      timer = undefined;
      if (stopped) return;
      look().then(
        (fenced) => {
          if (!fenced && !stopped) timer = setTimeout(tick, SOLD_OUT_WATCH_MS).unref();
        },
        (err: unknown) => {
          // a read or write that failed refuses nothing (the run decides, as before)
          logger.warn({ err, checkoutId: checkout.checkoutId }, 'sold-out watch: could not look at the stock');
          if (!stopped) timer = setTimeout(tick, SOLD_OUT_WATCH_MS).unref();
        },
      );
    };
    timer = setTimeout(tick, SOLD_OUT_WATCH_MS).unref();
  });
  return {
    refused,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
