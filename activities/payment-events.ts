import { getCheckout } from '../db/stores/checkouts';
import { addOrderEvent } from '../db/stores/orders';
import { getPaymentByCheckout, syncPaymentFromGateway } from '../db/stores/payments';
import type { DisputeNotice, PaymentFollowUpResult } from '../domain/payment-events';
import type { ActivityDeps } from './deps';

/** The order-history type support looks for (GET /orders/:id `events`). */
export const DISPUTE_EVENT = 'dispute_opened';

/** The follow-up of a gateway event (workflows/payment-follow-up.ts): re-read, re-sync, flag. */
export function paymentEventActivities({ dbs, gateway, logger }: ActivityDeps) {
  return {
    /**
     * Sets our payment row to what the gateway says now. Skipped while one of our refunds is
     * in flight on it: that refund re-syncs the whole payment from the gateway when it is
     * recorded (activities/refunds.ts recordRefund), and a sync before would count it early.
     */
    async syncLedgerAfterPaymentEvent(req: { checkoutId: string; gatewayRef: string }): Promise<PaymentFollowUpResult['ledger']> {
      const ours = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      if (ours && ours.gatewayRef !== req.gatewayRef) return { synced: false, why: 'the checkout pays with another gateway payment' };
      if (ours && ours.refundPendingAmount > 0) return { synced: false, why: 'a refund of ours is in flight; it re-syncs when recorded' };
      const atGateway = await gateway.lookupPayment(req.gatewayRef);
      if (!atGateway) return { synced: false, why: 'the gateway does not know this payment' };
      const payment = await syncPaymentFromGateway(dbs.payment, req.checkoutId, gateway.name, atGateway);
      return { synced: true, status: payment.status };
    },

    /**
     * A line in the order's history (written once per dispute: addOrderEvent is keyed by its
     * reason) and a warning in the logs. The order's status does not change: a dispute is not
     * a parked step that support retries or cancels, and refunds stay possible.
     */
    async flagDisputedOrder(req: { checkoutId: string; dispute: DisputeNotice }): Promise<{ orderId: string | null }> {
      const orderId = (await getCheckout(dbs.order, req.checkoutId))?.orderId ?? null;
      if (!orderId) return { orderId: null };
      const { id, reason, amount, currency } = req.dispute;
      await addOrderEvent(dbs.order, orderId, DISPUTE_EVENT, `dispute ${id} opened at the gateway (${reason}, ${amount} ${currency}): respond to it in the Stripe dashboard before its deadline`);
      logger.warn({ orderId, disputeId: id, reason }, 'payment disputed: order flagged for support');
      return { orderId };
    },
  };
}
