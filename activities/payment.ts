import { getPaymentByCheckout, recordAuthorization, recordCapture, recordFullRefund, recordVoid } from '../db/stores/payments';
import type { Money } from '../workflows/messages';
import { PaymentDeclinedError, PaymentRejectedError } from './gateways/payment-gateway';
import type { ActivityDeps } from './deps';
import { businessFailure } from './failures';

export interface AuthorizeRequest {
  checkoutId: string;
  idempotencyKey: string;
  amount: Money;
  paymentToken: string;
}

export function paymentActivities({ dbs, gateway, logger }: ActivityDeps) {
  const authorizeAtGateway = (req: AuthorizeRequest) =>
    gateway.authorize({
      idempotencyKey: req.idempotencyKey,
      amount: req.amount.amount,
      currency: req.amount.currency,
      paymentToken: req.paymentToken,
      reference: req.checkoutId,
    });

  return {
    /** Authorizes the total; a decline is a business failure, a gateway outage is retried. */
    async authorizePayment(req: AuthorizeRequest): Promise<{ paymentRef: string }> {
      try {
        const auth = await authorizeAtGateway(req);
        await recordAuthorization(dbs.payment, {
          checkoutId: req.checkoutId,
          gateway: gateway.name,
          gatewayRef: auth.ref,
          amount: auth.amount,
          currency: auth.currency,
        });
        return { paymentRef: auth.ref };
      } catch (err) {
        if (err instanceof PaymentDeclinedError) {
          throw businessFailure('payment_declined', 'the payment was declined', { declineCode: err.declineCode });
        }
        throw err;
      }
    },

    async capturePayment(req: { checkoutId: string; orderId: string; idempotencyKey: string; amount: Money }): Promise<void> {
      const payment = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      if (!payment) throw businessFailure('payment_missing', `no authorization for checkout ${req.checkoutId}`);
      if (payment.status !== 'authorized' && payment.capturedAmount === req.amount.amount) return;
      try {
        await gateway.capture({
          idempotencyKey: req.idempotencyKey,
          ref: payment.gatewayRef,
          amount: req.amount.amount,
          currency: req.amount.currency,
        });
      } catch (err) {
        // retrying cannot change a refusal: the workflow parks the checkout for support
        if (err instanceof PaymentRejectedError) throw businessFailure('capture_refused', err.message);
        throw err;
      }
      await recordCapture(dbs.payment, req.checkoutId, req.orderId, req.amount.amount);
    },

    /**
     * Compensation of authorizePayment. An authorization we never recorded (the call timed
     * out after succeeding, then the retries ran out) is found by replaying the authorize
     * request under its own idempotency key, which returns the same authorization.
     */
    async voidPayment(req: { checkoutId: string; idempotencyKey: string; authorization: AuthorizeRequest }): Promise<void> {
      const payment = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      if (payment && payment.status !== 'authorized') return;
      const ref = payment?.gatewayRef ?? (await replayAuthorization(req.authorization));
      if (!ref) return;
      try {
        await gateway.void({ idempotencyKey: req.idempotencyKey, ref });
      } catch (err) {
        if (!(err instanceof PaymentRejectedError)) throw err;
        logger.warn({ checkoutId: req.checkoutId, reason: err.reason }, 'void refused by the gateway');
      }
      await recordVoid(dbs.payment, req.checkoutId);
    },

    /** Compensation of capturePayment: refunds what was captured, if anything was. */
    async refundPayment(req: { checkoutId: string; idempotencyKey: string; reason: string }): Promise<void> {
      const payment = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      if (!payment) return;
      const refundable = payment.capturedAmount - payment.refundedAmount - payment.refundPendingAmount;
      if (refundable <= 0) return;
      await gateway.refund({ idempotencyKey: req.idempotencyKey, ref: payment.gatewayRef, amount: refundable, currency: payment.currency });
      await recordFullRefund(dbs.payment, req.checkoutId);
    },
  };

  async function replayAuthorization(req: AuthorizeRequest): Promise<string | undefined> {
    try {
      return (await authorizeAtGateway(req)).ref;
    } catch (err) {
      if (err instanceof PaymentDeclinedError || err instanceof PaymentRejectedError) return undefined;
      throw err;
    }
  }
}
