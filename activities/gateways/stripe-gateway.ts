import Stripe from 'stripe';
import type { Config } from '../../config';
import {
  GatewayUnavailableError,
  PaymentDeclinedError,
  PaymentRejectedError,
  type AuthorizeRequest,
  type Authorization,
  type AuthorizationState,
  type CaptureRequest,
  type GatewayPayment,
  type PaymentGateway,
  type RefundRequest,
  type VoidRequest,
} from './payment-gateway';

/**
 * Stripe PaymentIntents with manual capture. The SDK's own retries are off: Temporal
 * retries the activity, and the idempotency key makes every retry return the first result.
 */
export class StripeGateway implements PaymentGateway {
  readonly name = 'stripe' as const;
  readonly client: Stripe;

  constructor(payment: Config['payment']) {
    if (!payment.stripeApiKey) throw new Error('STRIPE_API_KEY is required for the stripe gateway');
    const base = payment.stripeApiBase ? new URL(payment.stripeApiBase) : undefined;
    this.client = new Stripe(payment.stripeApiKey, {
      maxNetworkRetries: 0,
      timeout: 8_000,
      ...(base
        ? { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol === 'https:' ? 'https' : 'http' }
        : {}),
    });
  }

  async authorize(req: AuthorizeRequest): Promise<Authorization> {
    const intent = await call(() =>
      this.client.paymentIntents.create(
        {
          amount: req.amount,
          currency: req.currency.toLowerCase(),
          payment_method: req.paymentToken,
          capture_method: 'manual',
          confirm: true,
          metadata: { reference: req.reference },
        },
        { idempotencyKey: req.idempotencyKey },
      ),
    );
    const state = stateOf(intent);
    if (state.status === 'declined' || state.status === 'canceled') {
      throw new PaymentDeclinedError(state.declineCode ?? 'payment_failed', intent.last_payment_error?.message ?? 'the payment was declined');
    }
    // `succeeded` cannot come back from a manual-capture intent; it would be captured already — the capture step finds out.
    const status = state.status === 'captured' ? 'authorized' : state.status;
    return { ref: intent.id, amount: intent.amount, currency: intent.currency.toUpperCase(), status, clientSecret: state.clientSecret };
  }

  async readAuthorization(ref: string): Promise<AuthorizationState | undefined> {
    try {
      return stateOf(await call(() => this.client.paymentIntents.retrieve(ref)));
    } catch (err) {
      if (err instanceof PaymentRejectedError && err.reason === 'resource_missing') return undefined;
      throw err;
    }
  }

  async capture(req: CaptureRequest): Promise<{ ref: string; amount: number }> {
    const intent = await call(() =>
      this.client.paymentIntents.capture(req.ref, { amount_to_capture: req.amount }, { idempotencyKey: req.idempotencyKey }),
    );
    return { ref: intent.id, amount: intent.amount_received || req.amount };
  }

  async void(req: VoidRequest): Promise<void> {
    await call(() => this.client.paymentIntents.cancel(req.ref, {}, { idempotencyKey: req.idempotencyKey }));
  }

  async refund(req: RefundRequest): Promise<{ refundRef: string; amount: number }> {
    const refund = await call(() =>
      this.client.refunds.create(
        { payment_intent: req.ref, amount: req.amount, metadata: { idempotency_key: req.idempotencyKey } },
        { idempotencyKey: req.idempotencyKey },
      ),
    );
    return { refundRef: refund.id, amount: refund.amount };
  }

  async lookupPayment(ref: string): Promise<GatewayPayment | undefined> {
    let intent: Stripe.PaymentIntent;
    try {
      intent = await call(() => this.client.paymentIntents.retrieve(ref, { expand: ['latest_charge'] }));
    } catch (err) {
      if (err instanceof PaymentRejectedError && err.reason === 'resource_missing') return undefined;
      throw err;
    }
    const charge = typeof intent.latest_charge === 'object' && intent.latest_charge ? intent.latest_charge : undefined;
    const captured = intent.status === 'succeeded' ? intent.amount_received : 0;
    // a cancelled intent was authorized only if it has a charge (3-D Secure abandoned: none)
    const authorized = ['requires_capture', 'succeeded'].includes(intent.status) || (intent.status === 'canceled' && charge) ? intent.amount : 0;
    return {
      ref: intent.id,
      currency: intent.currency.toUpperCase(),
      authorized,
      captured,
      refunded: charge?.amount_refunded ?? 0,
      voided: intent.status === 'canceled',
      open: ['requires_action', 'processing', 'requires_confirmation', 'requires_payment_method'].includes(intent.status),
    };
  }

  async findAuthorization(req: { idempotencyKey: string; reference: string }): Promise<string | undefined> {
    const found = await call(() => this.client.paymentIntents.search({ query: `metadata['reference']:'${req.reference}'`, limit: 10 }));
    return found.data.find((i) => i.metadata?.reference === req.reference)?.id;
  }

  async findRefund(req: { ref: string; idempotencyKey: string }): Promise<{ refundRef: string; amount: number } | undefined> {
    const list = await call(() => this.client.refunds.list({ payment_intent: req.ref, limit: 100 }));
    const refund = list.data.find((r) => r.metadata?.idempotency_key === req.idempotencyKey);
    return refund ? { refundRef: refund.id, amount: refund.amount } : undefined;
  }
}

/**
 * What an intent's status means for the checkout: requires_capture → authorized;
 * requires_action → the customer's 3-D Secure step (with the client secret for Stripe.js);
 * processing → wait; requires_payment_method (a failed attempt) → declined with the gateway's code.
 */
export function stateOf(intent: Stripe.PaymentIntent): AuthorizationState {
  const base = { ref: intent.id, amount: intent.amount, currency: intent.currency.toUpperCase() };
  switch (intent.status) {
    case 'requires_capture':
      return { ...base, status: 'authorized' };
    case 'requires_action':
      return { ...base, status: 'requires_action', clientSecret: intent.client_secret ?? undefined };
    case 'processing':
    case 'requires_confirmation':
      return { ...base, status: 'processing' };
    case 'succeeded':
      return { ...base, status: 'captured' };
    case 'canceled':
      return { ...base, status: 'canceled', declineCode: intent.cancellation_reason ?? 'canceled' };
    case 'requires_payment_method':
    default: {
      const error = intent.last_payment_error;
      return { ...base, status: 'declined', declineCode: error?.decline_code ?? error?.code ?? 'payment_failed' };
    }
  }
}

/** Maps Stripe's errors to the three kinds the workflows act on. */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Stripe.errors.StripeCardError) {
      throw new PaymentDeclinedError(err.decline_code ?? err.code ?? 'card_declined', err.message);
    }
    if (err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripeIdempotencyError) {
      throw new PaymentRejectedError(err.code ?? err.message);
    }
    if (err instanceof Stripe.errors.StripeError) {
      const status = err.statusCode ?? 0;
      if (status === 0 || status === 429 || status >= 500) throw new GatewayUnavailableError(err.message);
      throw new PaymentRejectedError(err.code ?? err.message);
    }
    throw err;
  }
}
