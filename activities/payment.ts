import { getPaymentByCheckout, recordAuthorization, recordCapture, syncPaymentFromGateway } from '../db/stores/payments';
import type { Money } from '../domain/money';
import { PaymentDeclinedError, PaymentRejectedError } from './gateways/payment-gateway';
import type { ActivityDeps } from './deps';
import { businessFailure } from './failures';

/** The authorizePayment activity's input (the gateway's own request is gateways' AuthorizeRequest). */
export interface AuthorizePaymentInput {
  checkoutId: string;
  idempotencyKey: string;
  amount: Money;
  paymentToken: string;
}

/** What a compensation did with the customer's money, as the gateway confirmed it. */
export interface MoneyReturned {
  action: 'none' | 'voided' | 'refunded';
  amount: number;
  currency: string;
}

export function paymentActivities({ dbs, gateway, logger }: ActivityDeps) {
  const authorizeAtGateway = (req: AuthorizePaymentInput) =>
    gateway.authorize({
      idempotencyKey: req.idempotencyKey,
      amount: req.amount.amount,
      currency: req.amount.currency,
      paymentToken: req.paymentToken,
      reference: req.checkoutId,
    });

  return {
    /** Authorizes the total; a decline is a business failure, a gateway outage is retried. */
    async authorizePayment(req: AuthorizePaymentInput): Promise<{ paymentRef: string }> {
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
        if (!(err instanceof PaymentRejectedError)) throw err;
        // A refusal may be the gateway telling us it already captured (an earlier reply lost):
        // ask it. Otherwise retrying cannot change a refusal: the workflow parks for support.
        const atGateway = await gateway.lookupPayment(payment.gatewayRef);
        if (!atGateway || atGateway.captured < req.amount.amount) throw businessFailure('capture_refused', err.message);
      }
      await recordCapture(dbs.payment, req.checkoutId, req.orderId, req.amount.amount);
    },

    /**
     * Compensation of authorizePayment, and support's cancel. Asks the gateway what really
     * happened (our ledger may have missed a reply) and returns the money: captured →
     * refunded, authorized → voided, nothing → nothing. The ledger follows the gateway.
     */
    async voidPayment(req: { checkoutId: string; idempotencyKey: string; authorization: AuthorizePaymentInput }): Promise<MoneyReturned> {
      const payment = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      const ref =
        payment?.gatewayRef ??
        (await gateway.findAuthorization({ idempotencyKey: req.authorization.idempotencyKey, reference: req.checkoutId }));
      if (!ref) return { action: 'none', amount: 0, currency: req.authorization.amount.currency };
      return returnMoney(req.checkoutId, ref, { voidKey: req.idempotencyKey, refundKey: `${req.idempotencyKey}/refund` });
    },

    /** Compensation of capturePayment: the same gateway-first return of the money. */
    async refundPayment(req: { checkoutId: string; idempotencyKey: string; reason: string }): Promise<MoneyReturned> {
      const payment = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      if (!payment) return { action: 'none', amount: 0, currency: 'XXX' };
      return returnMoney(req.checkoutId, payment.gatewayRef, { voidKey: `${req.idempotencyKey}/void`, refundKey: req.idempotencyKey });
    },
  };

  async function returnMoney(checkoutId: string, ref: string, keys: { voidKey: string; refundKey: string }): Promise<MoneyReturned> {
    const before = await gateway.lookupPayment(ref);
    if (!before) return { action: 'none', amount: 0, currency: 'XXX' };
    let result: MoneyReturned = { action: 'none', amount: 0, currency: before.currency };
    const refundable = before.captured - before.refunded;
    if (refundable > 0) {
      await gateway.refund({ idempotencyKey: keys.refundKey, ref, amount: refundable, currency: before.currency });
      result = { action: 'refunded', amount: refundable, currency: before.currency };
    } else if (before.captured === 0 && before.authorized > 0 && !before.voided) {
      await gateway.void({ idempotencyKey: keys.voidKey, ref });
      result = { action: 'voided', amount: before.authorized, currency: before.currency };
    } else if (before.captured > 0) {
      result = { action: 'refunded', amount: before.refunded, currency: before.currency };
    } else if (before.voided) {
      result = { action: 'voided', amount: before.authorized, currency: before.currency };
    }
    const after = await gateway.lookupPayment(ref);
    if (after) await syncPaymentFromGateway(dbs.payment, checkoutId, gateway.name, after);
    logger.info({ checkoutId, action: result.action, amount: result.amount }, 'payment returned per the gateway');
    return result;
  }
}
