import { ApplicationFailure, metricMeter } from '@temporalio/activity';
import type { PricedCart } from '../domain/cart';
import type { CheckoutFailure, CheckoutOutcome } from '../domain/checkout';
import type { Money } from '../domain/money';
import { abandonCheckout, claimCheckout as claim, failCheckout, markCheckoutClosing } from '../db/stores/checkouts';
import { addOrderEvent, CheckoutAnsweredError, createOrder as create, getOrderIdByCheckout, transitionOrder } from '../db/stores/orders';
import type { ActivityDeps } from './deps';

export interface CreateOrderRequest {
  checkoutId: string;
  cartId: string;
  email: string;
  customerId?: string;
  shippingAddress?: Record<string, string>;
  cart: PricedCart;
}

export function orderActivities({ dbs }: ActivityDeps) {
  return {
    /** Claims the checkout for this run; returns the stored outcome if it already finished. */
    async claimCheckout(checkoutId: string, runId: string): Promise<CheckoutOutcome | null> {
      const done = await claim(dbs.order, checkoutId, runId);
      if (!done) return null;
      const total: Money | undefined =
        done.totalAmount !== null && done.currency ? { amount: done.totalAmount, currency: done.currency } : undefined;
      // an order placed means the storefront was answered "placed": that answer stands
      if (done.orderId && total) {
        return { status: 'placed', checkoutId, orderId: done.orderId, total };
      }
      return {
        status: 'failed',
        checkoutId,
        total,
        failure: done.failure ?? { code: 'checkout_failed', message: 'the checkout did not complete' },
      };
    },

    async createOrder(req: CreateOrderRequest): Promise<{ orderId: string }> {
      const orderId = await create(dbs.order, {
        checkoutId: req.checkoutId,
        cartId: req.cartId,
        email: req.email,
        customerId: req.customerId,
        shippingAddress: req.shippingAddress,
        currency: req.cart.total.currency,
        totalAmount: req.cart.total.amount,
        lines: req.cart.lines.map((l) => ({
          sku: l.sku,
          name: l.name,
          quantity: l.quantity,
          unitPrice: l.unitPrice.amount,
          lineTotal: l.lineTotal.amount,
        })),
      }).catch((err: unknown) => {
        // answered already (failed): no retry can change that
        if (err instanceof CheckoutAnsweredError) throw ApplicationFailure.nonRetryable(err.message, 'checkout_answered');
        throw err;
      });
      return { orderId };
    },

    async markOrderPaid(orderId: string): Promise<void> {
      await transitionOrder(dbs.order, orderId, 'paid');
    },

    /** Compensation of createOrder: the order (if one was made) ends failed with the reason. */
    async failOrder(req: { checkoutId: string; reason: string }): Promise<void> {
      // a checkout not answered yet is closed first: a lost task's late createOrder cannot place it after this
      await markCheckoutClosing(dbs.order, req.checkoutId);
      const orderId = await getOrderIdByCheckout(dbs.order, req.checkoutId);
      if (orderId) await transitionOrder(dbs.order, orderId, 'failed', req.reason);
    },

    /** A parked checkout's order shows support that it waits for a human. */
    async markOrderNeedsAttention(req: { checkoutId: string; reason: string }): Promise<void> {
      const orderId = await getOrderIdByCheckout(dbs.order, req.checkoutId);
      // Counted once per parking (a retried activity finds the order already moved): the
      // worker's Prometheus endpoint exports it beside the SDK's metrics (README "Monitoring").
      if (orderId && (await transitionOrder(dbs.order, orderId, 'needs_attention', req.reason))) {
        metricMeter.createCounter('orderly_orders_parked', 'orders', 'Orders parked for support (moved to needs_attention)').add(1);
      }
    },

    async resumeOrder(req: { checkoutId: string }): Promise<void> {
      const orderId = await getOrderIdByCheckout(dbs.order, req.checkoutId);
      if (orderId) await transitionOrder(dbs.order, orderId, 'placed', 'resumed by support');
    },

    /** Compensation of createOrder when support cancelled the checkout. */
    async cancelOrder(req: { checkoutId: string; reason: string }): Promise<void> {
      await markCheckoutClosing(dbs.order, req.checkoutId);
      const orderId = await getOrderIdByCheckout(dbs.order, req.checkoutId);
      if (orderId) await transitionOrder(dbs.order, orderId, 'cancelled', req.reason);
    },

    /** A line in the order's history that changes nothing (e.g. a cancel request ignored). */
    async noteOrderEvent(req: { orderId: string; type: string; reason: string }): Promise<void> {
      await addOrderEvent(dbs.order, req.orderId, req.type, req.reason);
    },

    /** Reconciliation: closes a pending checkout whose run is gone, if no new run took it meanwhile. */
    async abandonCheckout(req: { checkoutId: string; seenRunId: string | null; failure: CheckoutFailure }): Promise<{ closed: boolean }> {
      return { closed: await abandonCheckout(dbs.order, req.checkoutId, req.seenRunId, req.failure) };
    },

    /**
     * The checkout's failure as the customer reads it. `onlyIfFailed`: a correction of a failure
     * already recorded (the unseen-authorization void's word on the money), which never turns a
     * checkout another run of the same id placed since (a support Reset) into a failed one.
     */
    async recordCheckoutFailure(req: { checkoutId: string; failure: CheckoutFailure; total?: Money; onlyIfFailed?: boolean }): Promise<{ recorded: boolean }> {
      return { recorded: await failCheckout(dbs.order, req.checkoutId, req.failure, req.total, req.onlyIfFailed) };
    },
  };
}
