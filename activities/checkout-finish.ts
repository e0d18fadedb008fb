import { ApplicationFailure, Context } from '@temporalio/activity';
import type { PricedCart } from '../domain/cart';
import { IllegalOrderTransition } from '../db/stores/order-lifecycle';
import { transitionOrder, wasOrderPaid } from '../db/stores/orders';
import type { ActivityDeps } from './deps';
import type { inventoryActivities } from './inventory';
import type { notificationActivities } from './notifications';
import type { recommendationActivities } from './recommendations';

/**
 * An order in one of these states was paid already (a re-run after the first run's mark, or
 * support refunded it since): marking it paid again is done, not an error to retry. A cancelled
 * order counts only when its history shows it was paid first (cancelled after paid); one
 * cancelled while still placed was never paid, and a captured payment on it is for support.
 */
export const PAID_OR_LATER = ['paid', 'fulfilled', 'partially_refunded', 'refunded'] as const;

export interface FinishPaidCheckoutRequest {
  checkoutId: string;
  orderId: string;
  cartId: string;
  email: string;
  cart: PricedCart;
}

export interface FinishPaidCheckoutResult {
  /** The order was moved to paid by this call (false: it was paid or later already). */
  markedPaid: boolean;
  /** The purchase counted into "also bought" (false: counted before, or the step failed: logged). */
  recommendationsCounted: boolean;
  /** The cart step ran: this checkout's lines taken out if the cart was still this checkout's (false: the step failed, logged). */
  cartCleared: boolean;
  /** The confirmation went out in this call (false: an earlier run sent it). */
  confirmationSent: boolean;
}

/**
 * How many attempts of the activity a failing cart step or "also bought" step fails it (the
 * activity is retried); after that the step is logged and passed over, as the separate follow-up steps gave
 * each of them up after 10 tries. A failing confirmation retries the activity without a limit.
 */
export const BEST_EFFORT_ATTEMPTS = 10;

/** What the activity has done so far, sent as heartbeat details: a retry skips the done steps. */
interface FinishProgress {
  stock?: true;
  paid?: true;
  recommendations?: true;
  cart?: true;
  result: FinishPaidCheckoutResult;
}

/** The activity's context when running as one (a test may call it directly: attempt 1, no heartbeats). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * The steps after a capture, as one activity (one activity task and one workflow task instead of
 * five of each, docs/performance.md). After each step it heartbeats what is done, and a retry
 * (an outage in a later step, a worker lost mid-way: noticed within the heartbeat timeout)
 * skips the steps done before; each step is idempotent too, so a retry without those details
 * (a heartbeat not yet sent) re-runs them harmlessly:
 * - the stock commit happens once (the hold's state says whether it was);
 * - the order is marked paid unless it is paid or later already (a refund or a cancel since must
 *   not make the retry fail forever; an order cancelled before it was paid parks for support);
 * - "also bought" counts the order once;
 * - the cart loses this checkout's lines once (CLEAR_CHECKOUT keeps the ids of the checkouts it
 *   cleared: a cart refilled after the first clear keeps its lines);
 * - the confirmation is sent once per order (the outbox); an outage retries the activity until it goes.
 * "Also bought" and the cart step fail the activity (a retry) for the first BEST_EFFORT_ATTEMPTS
 * attempts, then are logged and passed over (the daily recompute has the purchase).
 * A stock commit that cannot happen (the hold lapsed and the stock was sold) or an order that
 * cannot be paid is a non-retryable failure: the workflow parks the checkout for support.
 */
export function checkoutFinishActivities(
  { dbs, carts, logger }: Pick<ActivityDeps, 'dbs' | 'carts' | 'logger'>,
  steps: {
    commitStock: ReturnType<typeof inventoryActivities>['commitStock'];
    recordPurchaseForRecommendations: ReturnType<typeof recommendationActivities>['recordPurchaseForRecommendations'];
    sendOrderConfirmation: ReturnType<typeof notificationActivities>['sendOrderConfirmation'];
  },
) {
  return {
    async finishPaidCheckout(req: FinishPaidCheckoutRequest): Promise<FinishPaidCheckoutResult> {
      const context = activityContext();
      const attempt = context?.info.attempt ?? 1;
      const earlier = context?.info.heartbeatDetails as FinishProgress | undefined;
      const progress: FinishProgress = {
        ...(earlier ?? {}),
        result: { markedPaid: false, recommendationsCounted: false, cartCleared: false, confirmationSent: false, ...(earlier?.result ?? {}) },
      };
      const done = (step: 'stock' | 'paid' | 'recommendations' | 'cart') => {
        progress[step] = true;
        context?.heartbeat(progress);
      };
      const bestEffort = (what: string, err: unknown, ids: Record<string, string>) => {
        if (attempt <= BEST_EFFORT_ATTEMPTS) throw err;
        logger.warn({ ...ids, attempt, err: String(err) }, what);
      };

      if (!progress.stock) {
        await steps.commitStock(req.checkoutId);
        done('stock');
      }

      if (!progress.paid) {
        try {
          progress.result.markedPaid = await transitionOrder(dbs.order, req.orderId, 'paid');
        } catch (err) {
          // paid or later already (a refund or a cancel since) is done; anything else (failed) is for support
          if (!(err instanceof IllegalOrderTransition)) throw err;
          const paidBefore = (PAID_OR_LATER as readonly string[]).includes(err.from) || (err.from === 'cancelled' && (await wasOrderPaid(dbs.order, req.orderId)));
          if (!paidBefore) throw ApplicationFailure.nonRetryable(err.message, 'order_not_payable');
        }
        done('paid');
      }

      if (!progress.recommendations) {
        try {
          progress.result.recommendationsCounted = (await steps.recordPurchaseForRecommendations({ orderId: req.orderId })).counted;
        } catch (err) {
          bestEffort('recommendations not updated', err, { orderId: req.orderId });
        }
        done('recommendations');
      }

      if (!progress.cart) {
        try {
          await carts.clearCheckout(req.cartId, req.checkoutId, req.cart.lines);
          progress.result.cartCleared = true;
        } catch (err) {
          bestEffort('cart not cleared', err, { cartId: req.cartId });
        }
        done('cart');
      }

      // an outage retries the whole activity (the steps above are done and skipped); a refusal
      // that no retry can change is logged, never parks a paid order
      try {
        progress.result.confirmationSent = (await steps.sendOrderConfirmation({ orderId: req.orderId, checkoutId: req.checkoutId, email: req.email, cart: req.cart })).sent;
      } catch (err) {
        if (!(err instanceof ApplicationFailure && err.nonRetryable)) throw err;
        logger.warn({ orderId: req.orderId, err: String(err) }, 'confirmation not sent');
      }
      return progress.result;
    },
  };
}
