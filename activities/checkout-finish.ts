import { ApplicationFailure, Context } from '@temporalio/activity';
import type { PricedCart } from '../domain/cart';
import { CAPTURED_BEFORE_REFUSAL } from '../domain/checkout';
import { IllegalOrderTransition } from '../db/stores/order-lifecycle';
import { transitionOrder, wasOrderPaid } from '../db/stores/orders';
import type { ActivityDeps } from './deps';
import type { inventoryActivities } from './inventory';
import type { notificationActivities } from './notifications';
import type { paymentActivities } from './payment';
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

/** captureAndFinishPaidCheckout's progress: the capture first. */
interface CaptureAndFinishProgress extends FinishProgress {
  captured?: true;
}

export interface CaptureAndFinishRequest extends FinishPaidCheckoutRequest {
  /** The capture's idempotency key (the workflow's: `capture`, or `capture/retry-N` after support's Nth retry). */
  captureKey: string;
}

/**
 * How many attempts of captureAndFinishPaidCheckout a capture that keeps failing (an outage)
 * gets before it parks for support, as the separate capture activity's retry budget did
 * (workflows/checkout-calls.ts GATEWAY_CALLS); the steps after a capture retry without a limit.
 */
export const CAPTURE_ATTEMPTS = 6;

/**
 * The capture, then the steps after it, in one activity attempt. What the workflow must tell
 * apart when the activity fails for good (non-retryable):
 * - a failure of the capture (refused: capture_refused; an outage past CAPTURE_ATTEMPTS
 *   attempts, made non-retryable here with its type and message) is the capture's: the workflow
 *   parks it as the separate capture activity did (same reason, same codes; the authorization's
 *   expiry applies; support's retry captures under a new key);
 * - a refusal after the capture succeeded (a stock commit refused, an order not payable) carries
 *   CAPTURED_BEFORE_REFUSAL (domain/checkout.ts) as its last detail, type and message unchanged:
 *   the workflow parks the finishing step, and support's retry re-runs only finishPaidCheckout.
 * A retry of the activity (an outage in a later step, a lost worker) skips a capture its heartbeat
 * says is done; without that heartbeat, capturePayment finds the ledger's capture and does not
 * call the gateway (and under the same key the gateway would answer with its one capture).
 * Exported for the workflow tests' fakes (test/helpers/checkout-fakes.ts).
 */
export async function captureThenFinish<R>(run: {
  attempt: number;
  capturedBefore: boolean;
  capture: () => Promise<unknown>;
  /** Asked before an outage is given up on: did the gateway capture anyway (its replies lost)? True → the ledger says so now. */
  capturedAnyway: () => Promise<boolean>;
  captured: () => void;
  finish: () => Promise<R>;
}): Promise<R> {
  if (!run.capturedBefore) {
    try {
      await run.capture();
    } catch (err) {
      if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
      if (run.attempt < CAPTURE_ATTEMPTS) throw err;
      // The budget is spent: before parking the capture (where the authorization's expiry would
      // cancel the order and refund it), the gateway is asked whether it captured after all —
      // a capture whose every reply was lost is a paid order, not an outage (review r28b).
      if (!(await run.capturedAnyway().catch(() => false))) {
        const type = err instanceof ApplicationFailure ? (err.type ?? 'Error') : err instanceof Error ? err.name : 'Error';
        throw ApplicationFailure.create({ type, message: err instanceof Error ? err.message : String(err), nonRetryable: true, cause: err instanceof Error ? err : undefined });
      }
    }
    run.captured();
  }
  try {
    return await run.finish();
  } catch (err) {
    if (!(err instanceof ApplicationFailure && err.nonRetryable)) throw err;
    throw ApplicationFailure.create({
      type: err.type ?? undefined,
      message: err.message,
      details: [...(err.details ?? []), CAPTURED_BEFORE_REFUSAL],
      nonRetryable: true,
      cause: err.cause,
    });
  }
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
    capturePayment: ReturnType<typeof paymentActivities>['capturePayment'];
    confirmCapture: ReturnType<typeof paymentActivities>['confirmCapture'];
  },
) {
  /** The finishing steps, skipping those `progress` says are done; heartbeats `progress` after each. */
  const runFinish = async (req: FinishPaidCheckoutRequest, progress: FinishProgress, context: Context | undefined): Promise<FinishPaidCheckoutResult> => {
    const attempt = context?.info.attempt ?? 1;
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
  };
  /** Progress from the previous attempt's heartbeats (none on a first attempt or a direct call). */
  const progressOf = (context: Context | undefined): CaptureAndFinishProgress => {
    const earlier = context?.info.heartbeatDetails as CaptureAndFinishProgress | undefined;
    return {
      ...(earlier ?? {}),
      result: { markedPaid: false, recommendationsCounted: false, cartCleared: false, confirmationSent: false, ...(earlier?.result ?? {}) },
    };
  };

  return {
    async finishPaidCheckout(req: FinishPaidCheckoutRequest): Promise<FinishPaidCheckoutResult> {
      const context = activityContext();
      return runFinish(req, progressOf(context), context);
    },

    /**
     * The capture and the steps after it as one activity (checkout-capture-and-finish): one
     * activity task and one workflow task fewer per checkout (docs/performance.md). The capture
     * is capturePayment's own code (gateway first under the workflow's key; it skips the gateway
     * when the payment ledger shows the checkout captured already), then finishPaidCheckout's
     * steps. See captureThenFinish for how a failure of each part is told apart.
     */
    async captureAndFinishPaidCheckout(req: CaptureAndFinishRequest): Promise<FinishPaidCheckoutResult> {
      const context = activityContext();
      const progress = progressOf(context);
      return captureThenFinish({
        attempt: context?.info.attempt ?? 1,
        capturedBefore: progress.captured === true,
        capture: () => steps.capturePayment({ checkoutId: req.checkoutId, orderId: req.orderId, idempotencyKey: req.captureKey, amount: req.cart.total }),
        capturedAnyway: () => steps.confirmCapture({ checkoutId: req.checkoutId, orderId: req.orderId, amount: req.cart.total }),
        captured: () => {
          progress.captured = true;
          context?.heartbeat(progress);
        },
        finish: () => runFinish(req, progress, context),
      });
    },
  };
}
