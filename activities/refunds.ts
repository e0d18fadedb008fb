import { restock } from '../db/stores/holds';
import { sendOnce } from '../db/stores/notification-outbox';
import { IllegalOrderTransition } from '../db/stores/order-lifecycle';
import { getPaymentByCheckout, syncPaymentFromGateway } from '../db/stores/payments';
import { completeRefund, failRefund, getRefund } from '../db/stores/refunds';
import { addOrderEvent, getOrderCheckoutId, transitionOrder } from '../db/stores/orders';
import { claimRefundLines, releaseRefundLines, type ClaimOutcome, type RefundLineClaim } from '../db/stores/refund-lines';
import type { Money } from '../domain/money';
import { PaymentRejectedError } from './gateways/payment-gateway';
import type { ActivityDeps } from './deps';
import { businessFailure } from './failures';
import { formatMoney, render } from './templates/render';

/** The one idempotency key of a refund's gateway call: the refund and its lookup use it. */
const gatewayKey = (refundId: string) => `refund-${refundId}/gateway`;

export function refundActivities({ dbs, gateway, mailer, config }: ActivityDeps) {
  async function refundAndPayment(refundId: string) {
    const refund = await getRefund(dbs.payment, refundId);
    if (!refund) throw businessFailure('not_found', `no refund ${refundId}`);
    const checkoutId = await getOrderCheckoutId(dbs.order, refund.orderId);
    const payment = checkoutId ? await getPaymentByCheckout(dbs.payment, checkoutId) : undefined;
    if (!payment) throw businessFailure('not_found', `no payment for order ${refund.orderId}`);
    return { refund, payment };
  }

  return {
    /** Takes the refund's order-line units (idempotent per refund; bounded by what was sold). */
    async claimRefundLines(req: { refundId: string; orderId: string; lines: RefundLineClaim[] }): Promise<ClaimOutcome> {
      return claimRefundLines(dbs.order, req);
    },

    /** Compensation of claimRefundLines: the units go back to refundable, once. */
    async releaseRefundLines(req: { refundId: string }): Promise<{ released: RefundLineClaim[] }> {
      return { released: await releaseRefundLines(dbs.order, req.refundId) };
    },

    /** Asks the gateway whether the refund happened (its reply may have been lost). */
    async findRefundAtGateway(refundId: string): Promise<{ gatewayRef: string | null }> {
      const { refund, payment } = await refundAndPayment(refundId);
      if (refund.status === 'succeeded' && refund.gatewayRef) return { gatewayRef: refund.gatewayRef };
      const found = await gateway.findRefund({ ref: payment.gatewayRef, idempotencyKey: gatewayKey(refundId) });
      return { gatewayRef: found?.refundRef ?? null };
    },

    /** The gateway refund, keyed by the refund id: a retry never refunds twice. */
    async refundAtGateway(refundId: string): Promise<{ gatewayRef: string }> {
      const { refund, payment } = await refundAndPayment(refundId);
      if (refund.status === 'succeeded' && refund.gatewayRef) return { gatewayRef: refund.gatewayRef };
      try {
        const result = await gateway.refund({
          idempotencyKey: gatewayKey(refundId),
          ref: payment.gatewayRef,
          amount: refund.amount,
          currency: refund.currency,
        });
        return { gatewayRef: result.refundRef };
      } catch (err) {
        if (err instanceof PaymentRejectedError) throw businessFailure('refund_rejected', err.message);
        throw err;
      }
    },

    /**
     * Records the refund as succeeded (what is still reserved for it moves to refunded), then
     * re-reads the payment at the gateway and corrects the ledger to it: the gateway is the
     * truth, and a sync meanwhile (support's cancel, reconciliation) may already have counted
     * this refund. fullyRefunded = the synced ledger has refunded the whole capture.
     */
    async recordRefund(req: { refundId: string; gatewayRef: string }): Promise<{ fullyRefunded: boolean }> {
      let payment = await completeRefund(dbs.payment, req.refundId, req.gatewayRef);
      const view = await gateway.lookupPayment(payment.gatewayRef);
      if (view) payment = await syncPaymentFromGateway(dbs.payment, payment.checkoutId, gateway.name, view);
      return { fullyRefunded: payment.capturedAmount > 0 && payment.refundedAmount >= payment.capturedAmount };
    },

    /** Compensation: the refund ends failed and its reservation is released. */
    async releaseRefund(req: { refundId: string; failure: { code: string; message: string } }): Promise<void> {
      await failRefund(dbs.payment, req.refundId, req.failure);
    },

    async restockRefund(req: { refundId: string; lines: { sku: string; quantity: number }[] }): Promise<{ returned: number }> {
      return { returned: await restock(dbs.inventory, req.refundId, req.lines) };
    },

    /**
     * paid/fulfilled/partially_refunded → partially_refunded or refunded. An order that moved
     * meanwhile to a status that cannot become refunded (needs_attention set by
     * reconciliation, cancelled by support) keeps its status: the refund is noted in its
     * history instead — retrying cannot make an illegal transition legal.
     */
    async markOrderRefunded(req: { orderId: string; refundId: string; fullyRefunded: boolean }): Promise<void> {
      const to = req.fullyRefunded ? 'refunded' : 'partially_refunded';
      try {
        await transitionOrder(dbs.order, req.orderId, to, `refund ${req.refundId}`);
      } catch (err) {
        if (!(err instanceof IllegalOrderTransition)) throw err;
        await addOrderEvent(dbs.order, req.orderId, 'refund_recorded', `refund ${req.refundId} succeeded; the order stays ${err.from} (it cannot become ${to})`);
      }
    },

    async sendRefundEmail(req: { refundId: string; orderId: string; email: string; amount: Money }): Promise<{ sent: boolean }> {
      const vars = {
        orderId: req.orderId,
        amount: formatMoney(req.amount.amount, req.amount.currency),
        orderUrl: `${config.storefrontUrl}/orders/${encodeURIComponent(req.orderId)}`,
      };
      const result = await sendOnce(dbs.notification, (m) => mailer.send(m), {
        idempotencyKey: `refund-issued:${req.refundId}`,
        kind: 'refund_issued',
        recipient: req.email,
        subject: `Your refund for order ${req.orderId}`,
        text: render('refund-issued.txt', vars),
        html: render('refund-issued.html', vars),
        payload: { refundId: req.refundId, orderId: req.orderId },
      });
      return { sent: result.sent };
    },
  };
}
