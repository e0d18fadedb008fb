import {
  abandonAuthorization,
  closeAuthorizationAttempt,
  getPaymentByCheckout,
  markAuthorizationAttempt,
  noteAttemptedAuthorizationRef,
  recordAuthorization,
  recordCapture,
  syncPaymentFromGateway,
  type AuthorizationFate,
} from '../db/stores/payments';

export type { AuthorizationFate } from '../db/stores/payments';
import type { Money } from '../domain/money';
import { unguarded } from './gateways/breaker-gateway';
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

/** Where an authorization stands after the authorize call or a re-read. */
export interface AuthorizePaymentResult {
  paymentRef: string;
  /** Absent in histories recorded before 3-D Secure support: those were authorized. */
  status?: 'authorized' | 'requires_action' | 'processing';
  clientSecret?: string;
}

/** An authorization still waiting for the customer (3-D Secure, with its client secret) or the processor. */
function stillWaiting(paymentRef: string, status: 'requires_action' | 'processing', clientSecret?: string): AuthorizePaymentResult {
  return { paymentRef, status, ...(clientSecret ? { clientSecret } : {}) };
}

/**
 * A decline is the customer's business (402); a payment method the gateway refuses outright
 * (unknown pm_…, invalid request) too (422) — retrying cannot change either.
 */
function asBusinessFailure(err: unknown): unknown {
  if (err instanceof PaymentDeclinedError) {
    return businessFailure('payment_declined', 'the payment was declined', { declineCode: err.declineCode });
  }
  if (err instanceof PaymentRejectedError) {
    return businessFailure('payment_method_invalid', 'the payment method was refused by the payment processor', { reason: err.reason });
  }
  return err;
}

/** The voidPayment activity's input. */
export interface VoidPaymentInput {
  checkoutId: string;
  idempotencyKey: string;
  authorization: AuthorizePaymentInput;
  /** The intent's id, when the run knows it. */
  paymentRef?: string;
  /** Reconciliation: it already has the gateway's word, so the breaker's `refused` mark is not asked. */
  askGateway?: boolean;
  /**
   * The run never reached the authorize step (a refusal before it), but a lost workflow task may
   * have: void only what the authorization-attempt mark says was sent, and fence off the rest.
   */
  onlyIfAttempted?: boolean;
}

/**
 * The gateway cannot answer a re-sent authorization yet: another request under its key is still
 * being processed (Stripe's idempotency_key_in_use), or it refused the key's reuse. Retried: the
 * compensation asks again until the gateway gives the key's one answer.
 */
export class AuthorizationAttemptInFlightError extends Error {
  override name = 'AuthorizationAttemptInFlightError';
  constructor(readonly idempotencyKey: string, reason: string) {
    super(`authorization ${idempotencyKey} was attempted and the gateway cannot answer for its key yet (${reason}); asking again`);
  }
}

/** What a compensation did with the customer's money, as the gateway confirmed it. */
export interface MoneyReturned {
  action: 'none' | 'voided' | 'refunded';
  amount: number;
  currency: string;
}

/** Our ledger already shows this amount captured (an earlier attempt's capture was recorded). */
const capturedInLedger = (payment: { status: string; capturedAmount: number }, amount: Money) => payment.status !== 'authorized' && payment.capturedAmount === amount.amount;

/** How long confirmCapture waits for the gateway's answer (it goes past the breaker, and its timeout). */
const CONFIRM_CAPTURE_TIMEOUT_MS = 10_000;

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
    /**
     * Authorizes the total; a decline is a business failure, a gateway outage is retried.
     * An authorization that waits for the customer (3-D Secure) or the processor is returned
     * as such, with nothing recorded yet: the workflow waits and re-reads it.
     */
    async authorizePayment(req: AuthorizePaymentInput): Promise<AuthorizePaymentResult> {
      // Marked before the call, and no call without the mark (a failed write is retried): a
      // compensation whose run never saw this step (a lost workflow task) asks the mark.
      const fate = await markAuthorizationAttempt(dbs.payment, {
        idempotencyKey: req.idempotencyKey,
        checkoutId: req.checkoutId,
        amount: req.amount.amount,
        currency: req.amount.currency,
      });
      if (fate !== 'attempted') {
        throw businessFailure('authorization_abandoned', `checkout ${req.checkoutId} was compensated (${fate}); this authorization is not sent`);
      }
      try {
        const auth = await authorizeAtGateway(req);
        if (auth.status !== 'authorized') {
          await noteAttemptedAuthorizationRef(dbs.payment, req.idempotencyKey, auth.ref);
          return stillWaiting(auth.ref, auth.status, auth.clientSecret);
        }
        await recordAuthorized(req.checkoutId, auth);
        return { paymentRef: auth.ref, status: 'authorized' };
      } catch (err) {
        throw asBusinessFailure(err);
      }
    },

    /**
     * Re-reads a waiting authorization from the gateway (after a webhook, the storefront's
     * confirm, or the wait's end): never from what the caller or the event said. Authorized →
     * recorded; declined, failed 3-D Secure or cancelled → a business failure (payment_declined).
     */
    async readPaymentAuthorization(req: { checkoutId: string; paymentRef: string }): Promise<AuthorizePaymentResult> {
      const state = await gateway.readAuthorization(req.paymentRef);
      if (!state) throw businessFailure('payment_missing', `the gateway has no payment ${req.paymentRef}`);
      switch (state.status) {
        case 'authorized':
          await recordAuthorized(req.checkoutId, state);
          return { paymentRef: state.ref, status: 'authorized' };
        case 'requires_action':
        case 'processing':
          return stillWaiting(state.ref, state.status, state.clientSecret);
        case 'captured':
          // only our capture step captures: a captured intent here is a manual action at the gateway
          throw businessFailure('payment_declined', 'the payment was captured outside the checkout', { declineCode: 'unexpected_capture' });
        case 'declined':
        case 'canceled':
          throw businessFailure('payment_declined', 'the payment was declined', { declineCode: state.declineCode ?? state.status });
      }
    },

    async capturePayment(req: { checkoutId: string; orderId: string; idempotencyKey: string; amount: Money }): Promise<void> {
      const payment = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      if (!payment) throw businessFailure('payment_missing', `no authorization for checkout ${req.checkoutId}`);
      if (capturedInLedger(payment, req.amount)) return;
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
     * Whether the gateway captured this checkout's payment although no reply said so (every
     * capture reply lost, or the ledger write failing): asked before a capture outage is given
     * up on. Captured in full → the ledger is brought up to date (recordCapture) and true.
     * Not captured, no payment, or the gateway not answering → false (the caller gives up as before).
     */
    async confirmCapture(req: { checkoutId: string; orderId: string; amount: Money }): Promise<boolean> {
      const payment = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      if (!payment) return false;
      if (capturedInLedger(payment, req.amount)) return true;
      // past the breaker (the lost replies that bring this question are what opens it), bounded here
      let timer: NodeJS.Timeout | undefined;
      const atGateway = await Promise.race([
        unguarded(gateway).lookupPayment(payment.gatewayRef),
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), CONFIRM_CAPTURE_TIMEOUT_MS))),
      ])
        .catch(() => undefined)
        .finally(() => clearTimeout(timer));
      if (!atGateway || atGateway.captured < req.amount.amount) return false;
      await recordCapture(dbs.payment, req.checkoutId, req.orderId, req.amount.amount);
      return true;
    },

    /**
     * Compensation of authorizePayment, and support's cancel. Asks the gateway what really
     * happened (our ledger may have missed a reply) and returns the money: captured →
     * refunded, authorized → voided, nothing → nothing. The ledger follows the gateway.
     */
    async voidPayment(req: VoidPaymentInput): Promise<MoneyReturned> {
      const payment = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      const none: MoneyReturned = { action: 'none', amount: 0, currency: req.authorization.amount.currency };
      if (!payment && req.onlyIfAttempted) return voidIfAttempted(req, none);
      // A capture under this checkout id came from a later run of it (a support Reset placed the
      // order): that money is the order's, never the unseen-authorization void's to refund.
      if (payment && req.onlyIfAttempted && payment.status !== 'authorized' && payment.status !== 'voided') return none;
      const ref =
        payment?.gatewayRef ??
        req.paymentRef ??
        (await gateway.findAuthorization({ idempotencyKey: req.authorization.idempotencyKey, reference: req.checkoutId }));
      if (!ref) return none;
      return returnMoney(req.checkoutId, ref, { voidKey: req.idempotencyKey, refundKey: `${req.idempotencyKey}/refund` });
    },

    /**
     * A failed checkout whose run never reached its authorize step (a refused hold, price_changed,
     * a cancel before payment): the payment store's attempt mark decides, in one statement
     * (abandonAuthorization: insert `abandoned` unless a row stands, and return the row that
     * stands). `abandoned` — no authorize was ever sent under the key, nor can one be sent later
     * (markAuthorizationAttempt meets the fence in the same unique row and refuses): no money
     * moved, nothing to void. Any other fate (an attempt a lost workflow task marked, or a void
     * before) is for voidUnseenAuthorizationWorkflow to settle with the gateway. No gateway call.
     */
    async fenceUnseenAuthorization(req: { checkoutId: string; idempotencyKey: string; amount: Money }): Promise<{ fate: AuthorizationFate }> {
      const stands = await abandonAuthorization(dbs.payment, {
        idempotencyKey: req.idempotencyKey,
        checkoutId: req.checkoutId,
        amount: req.amount.amount,
        currency: req.amount.currency,
      });
      return { fate: stands.fate };
    },

    /** Compensation of capturePayment: the same gateway-first return of the money. */
    async refundPayment(req: { checkoutId: string; idempotencyKey: string; reason: string }): Promise<MoneyReturned> {
      const payment = await getPaymentByCheckout(dbs.payment, req.checkoutId);
      if (!payment) return { action: 'none', amount: 0, currency: 'XXX' };
      return returnMoney(req.checkoutId, payment.gatewayRef, { voidKey: `${req.idempotencyKey}/void`, refundKey: req.idempotencyKey });
    },
  };

  /**
   * The run never saw the authorize step, but a lost workflow task may have sent it: the attempt
   * mark decides. None → `abandoned` is written, so a stale re-run of that task cannot send it
   * later. An attempt → the gateway is asked for the authorization its key made: the noted id, a
   * search by reference (Stripe's lags; it is what finds an attempt older than Stripe keeps
   * idempotency keys, 24 h), and then a definite answer — the authorize re-sent under the SAME
   * key and amount: the gateway answers with the authorization that key made, or makes it now
   * (the lost task's call has not landed: when it does, it gets this one back). A call still in
   * flight is waited for however slow (the local ledger's insert waits on the key; Stripe answers
   * idempotency_key_in_use → retried), never judged by a time window. What it got is voided and
   * the key closed (`voided`); a decline or refusal made nothing: closed `abandoned`.
   */
  async function voidIfAttempted(req: VoidPaymentInput, none: MoneyReturned): Promise<MoneyReturned> {
    const key = req.authorization.idempotencyKey;
    const keys = { voidKey: req.idempotencyKey, refundKey: `${req.idempotencyKey}/refund` };
    const attempt = await abandonAuthorization(dbs.payment, {
      idempotencyKey: key,
      checkoutId: req.checkoutId,
      amount: req.authorization.amount.amount,
      currency: req.authorization.amount.currency,
    });
    if (attempt.fate === 'abandoned') return none;
    // voided before (a retried compensation): the gateway's word on that payment again
    if (attempt.fate === 'voided' && attempt.gatewayRef) return returnMoney(req.checkoutId, attempt.gatewayRef, keys);
    logger.warn({ checkoutId: req.checkoutId }, 'an authorization this run never saw was attempted (a lost workflow task): asking the gateway');
    let ref = attempt.gatewayRef ?? (await gateway.findAuthorization({ idempotencyKey: key, reference: req.checkoutId }));
    if (!ref) {
      try {
        const again = await authorizeAtGateway({
          checkoutId: req.checkoutId,
          idempotencyKey: key,
          amount: { amount: attempt.amount, currency: attempt.currency },
          paymentToken: req.authorization.paymentToken,
        });
        ref = again.ref;
      } catch (err) {
        if (err instanceof PaymentRejectedError && /idempoten/i.test(err.reason)) throw new AuthorizationAttemptInFlightError(key, err.reason);
        if (!(err instanceof PaymentDeclinedError || err instanceof PaymentRejectedError)) throw err;
        // the key's one answer is a decline (or a refusal): no authorization stands under it
        await closeAuthorizationAttempt(dbs.payment, key, 'abandoned');
        return none;
      }
    }
    const result = await returnMoney(req.checkoutId, ref, keys);
    await closeAuthorizationAttempt(dbs.payment, key, 'voided', ref);
    return result;
  }

  async function recordAuthorized(checkoutId: string, auth: { ref: string; amount: number; currency: string }): Promise<void> {
    await recordAuthorization(dbs.payment, { checkoutId, gateway: gateway.name, gatewayRef: auth.ref, amount: auth.amount, currency: auth.currency });
  }

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
    } else if (before.open && !before.voided) {
      // waiting for 3-D Secure or the processor: cancelled, so it can never authorize later
      await gateway.void({ idempotencyKey: keys.voidKey, ref });
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
