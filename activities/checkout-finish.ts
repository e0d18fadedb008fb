import { ApplicationFailure } from '@temporalio/activity';
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
 * The steps after a capture, as one activity (one activity task and one workflow task instead of
 * five of each, docs/performance.md): every step is idempotent, so a retry of the whole — an
 * outage in any step, a worker lost mid-way — re-runs the steps done before harmlessly:
 * - the stock commit happens once (the hold's state says whether it was);
 * - the order is marked paid unless it is paid or later already (a refund or a cancel since must
 *   not make the retry fail forever; an order cancelled before it was paid parks for support);
 * - "also bought" counts the order once (best effort: a failure is logged, the daily recompute has it);
 * - the cart loses this checkout's lines only while it is still this checkout's (a cart refilled
 *   after the first clear keeps its lines; best effort: a failure is logged);
 * - the confirmation is sent once per order (the outbox); an outage retries the activity until it goes.
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
      await steps.commitStock(req.checkoutId);

      let markedPaid = false;
      try {
        markedPaid = await transitionOrder(dbs.order, req.orderId, 'paid');
      } catch (err) {
        // paid or later already (a refund or a cancel since) is done; anything else (failed) is for support
        if (!(err instanceof IllegalOrderTransition)) throw err;
        const paidBefore = (PAID_OR_LATER as readonly string[]).includes(err.from) || (err.from === 'cancelled' && (await wasOrderPaid(dbs.order, req.orderId)));
        if (!paidBefore) throw ApplicationFailure.nonRetryable(err.message, 'order_not_payable');
      }

      let recommendationsCounted = false;
      try {
        recommendationsCounted = (await steps.recordPurchaseForRecommendations({ orderId: req.orderId })).counted;
      } catch (err) {
        logger.warn({ orderId: req.orderId, err: String(err) }, 'recommendations not updated');
      }

      let cartCleared = false;
      try {
        await carts.clearCheckout(req.cartId, req.checkoutId, req.cart.lines);
        cartCleared = true;
      } catch (err) {
        logger.warn({ cartId: req.cartId, err: String(err) }, 'cart not cleared');
      }

      // an outage retries the whole activity (the steps above are done and stay done); a refusal
      // that no retry can change is logged, never parks a paid order
      let confirmationSent = false;
      try {
        confirmationSent = (await steps.sendOrderConfirmation({ orderId: req.orderId, checkoutId: req.checkoutId, email: req.email, cart: req.cart })).sent;
      } catch (err) {
        if (!(err instanceof ApplicationFailure && err.nonRetryable)) throw err;
        logger.warn({ orderId: req.orderId, err: String(err) }, 'confirmation not sent');
      }
      return { markedPaid, recommendationsCounted, cartCleared, confirmationSent };
    },
  };
}
