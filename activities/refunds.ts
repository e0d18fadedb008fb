import { restock } from '../db/stores/holds';
import { sendOnce } from '../db/stores/notification';
import { completeRefund, failRefund, getPaymentByCheckout, getRefund } from '../db/stores/payments';
import { getOrderCheckoutId, transitionOrder } from '../db/stores/orders';
import { claimRefundLines, releaseRefundLines, type ClaimOutcome, type RefundLineClaim } from '../db/stores/refund-lines';
import type { Money } from '../workflows/messages';
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

    /** Moves the reserved amount to refunded; says whether the whole capture is now refunded. */
    async recordRefund(req: { refundId: string; gatewayRef: string }): Promise<{ fullyRefunded: boolean }> {
      const payment = await completeRefund(dbs.payment, req.refundId, req.gatewayRef);
      return { fullyRefunded: payment.refundedAmount === payment.capturedAmount };
    },

    /** Compensation: the refund ends failed and its reservation is released. */
    async releaseRefund(req: { refundId: string; failure: { code: string; message: string } }): Promise<void> {
      await failRefund(dbs.payment, req.refundId, req.failure);
    },

    async restockRefund(req: { refundId: string; lines: { sku: string; quantity: number }[] }): Promise<{ returned: number }> {
      return { returned: await restock(dbs.inventory, req.refundId, req.lines) };
    },

    async markOrderRefunded(req: { orderId: string; refundId: string; fullyRefunded: boolean }): Promise<void> {
      await transitionOrder(dbs.order, req.orderId, req.fullyRefunded ? 'refunded' : 'partially_refunded', `refund ${req.refundId}`);
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
