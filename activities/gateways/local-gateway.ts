import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Db, DbOrTx } from '../../db/client';
import { findOperation, findPaymentOperation, ledgerPayment, onePaymentAtATime, recordOperation, type LedgerOperation, type LedgerPayment } from '../../db/stores/local-gateway-ledger';
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

/** Test tokens, as a card processor's sandbox would have them. */
const DECLINES: Record<string, string> = {
  tok_chargeDeclined: 'card_declined',
  tok_insufficient_funds: 'insufficient_funds',
};
const SLOW_TOKEN = 'tok_timeout';
/** A payment method the processor does not know (Stripe: resource_missing): refused, never retried. */
const UNKNOWN_METHOD_TOKEN = 'tok_unknownPaymentMethod';
/**
 * Tokens that need 3-D Secure, as Stripe's test cards do: the customer passes (or fails) the
 * step in `authenticate`; the second always fails it, whatever the customer does.
 */
const THREE_D_SECURE: Record<string, 'customer_decides' | 'fails'> = {
  tok_threeDSecure2Required: 'customer_decides',
  tok_threeDSecure2Fails: 'fails',
};

/** Where the local gateway reports what happened, as Stripe's webhooks do (activities/gateways/local-webhooks.ts). */
export interface GatewayEventSink {
  /** `object` is the Stripe-shaped payment_intent, charge or dispute the event is about. */
  emit(type: string, object: Record<string, unknown>): void;
}

export interface LocalGatewayFaults {
  /**
   * The next `count` calls fail: with a 500, by hanging past the caller's timeout, refused,
   * or `lost`: the operation happens and then the reply is lost (the caller sees a 500).
   */
  count: number;
  mode: GatewayFaultMode;
  /** Only these operations fail (default: all). */
  operations?: GatewayOperation[];
}

export type GatewayFaultMode = '500' | 'timeout' | 'reject' | 'lost';
export type LedgerIntent = Record<string, unknown> & { id: string; status: string };
/** `lookup` (reading a payment) fails only when named. */
type GatewayOperation = 'authorize' | 'capture' | 'void' | 'refund' | 'lookup';

/**
 * A deterministic processor for dev and tests that keeps its own ledger (schema
 * local_gateway) and honours idempotency keys like Stripe: the same key returns the stored
 * result. `tok_timeout` authorizes first and answers late, as a real timeout can.
 */
export class LocalGateway implements PaymentGateway {
  readonly name = 'local' as const;
  private faults: LocalGatewayFaults | null = null;

  private readonly options: { slowResponseMs: number; events?: GatewayEventSink; secret: string };

  constructor(
    private readonly db: Db,
    options: { slowResponseMs?: number; events?: GatewayEventSink; secret?: string } = {},
  ) {
    this.options = { slowResponseMs: options.slowResponseMs ?? 15_000, events: options.events, secret: options.secret ?? 'local-gateway' };
  }

  setFaults(faults: LocalGatewayFaults | null): void {
    this.faults = faults && faults.count > 0 ? { ...faults } : null;
  }

  authorize(req: AuthorizeRequest): Promise<Authorization> {
    return this.withFaults('authorize', () => this.doAuthorize(req));
  }

  capture(req: CaptureRequest): Promise<{ ref: string; amount: number }> {
    return this.withFaults('capture', () => this.doCapture(req));
  }

  void(req: VoidRequest): Promise<void> {
    return this.withFaults('void', () => this.doVoid(req));
  }

  refund(req: RefundRequest): Promise<{ refundRef: string; amount: number }> {
    return this.withFaults('refund', () => this.doRefund(req));
  }

  async lookupPayment(ref: string): Promise<GatewayPayment | undefined> {
    // lookups fail only when a fault names them (a gateway that can be neither told nor asked)
    if (this.faults?.operations?.includes('lookup')) return this.withFaults('lookup', () => this.lookupPaymentNow(ref));
    return this.lookupPaymentNow(ref);
  }

  private async lookupPaymentNow(ref: string): Promise<GatewayPayment | undefined> {
    const state = await this.state(ref);
    if (!state.status) return undefined;
    // the ledger counts an authorization only once it is authorized (3-D Secure passed, not declined)
    const { authorized, captured, refunded, voided, currency } = state;
    return { ref, authorized, captured, refunded, voided, currency, open: state.status === 'requires_action' };
  }

  async readAuthorization(ref: string): Promise<AuthorizationState | undefined> {
    const state = await this.state(ref);
    if (!state.status) return undefined;
    const base = { ref, amount: state.requested, currency: state.currency };
    switch (state.status) {
      case 'requires_action':
        return { ...base, status: 'requires_action', clientSecret: this.clientSecret(ref) };
      case 'requires_capture':
        return { ...base, status: 'authorized' };
      case 'succeeded':
        return { ...base, status: 'captured' };
      case 'canceled':
        return { ...base, status: 'canceled' };
      case 'requires_payment_method':
        return { ...base, status: 'declined', declineCode: state.declineCode ?? 'card_declined' };
    }
  }

  /**
   * The customer's 3-D Secure step, as Stripe.js runs it with the client secret: passes or
   * fails the authentication once (the first answer stands). Dev and tests only
   * (api/routes/local-gateway.ts); it is not part of PaymentGateway.
   */
  async authenticate(clientSecret: string, outcome: 'pass' | 'fail'): Promise<AuthorizationState | undefined> {
    const ref = clientSecret.split('_secret_')[0] ?? '';
    if (!this.validClientSecret(ref, clientSecret)) return undefined;
    const fresh = await this.onePaymentAtATime(ref, async (db) => {
      const state = await this.state(ref, db);
      if (state.status !== 'requires_action') return false;
      const auth = await findPaymentOperation(db, ref, 'authorize');
      const fails = auth?.declineCode === 'authentication_failed';
      const passed = outcome === 'pass' && !fails;
      const op = await this.record(
        `${ref}/authenticate`,
        {
          operation: 'authenticate',
          paymentRef: ref,
          amount: 0,
          currency: state.currency,
          outcome: passed ? 'authenticated' : 'authentication_failed',
          declineCode: passed ? null : 'authentication_failed',
          reference: state.reference ?? null,
        },
        db,
      );
      return op.fresh;
    });
    const after = await this.readAuthorization(ref);
    if (fresh && after) {
      await this.emitIntent(ref, after.status === 'authorized' ? 'payment_intent.amount_capturable_updated' : 'payment_intent.payment_failed');
    }
    return after;
  }

  /** A cardholder disputes a captured payment (dev and tests): Stripe sends charge.dispute.created. */
  async openDispute(ref: string, reason = 'fraudulent'): Promise<void> {
    const state = await this.state(ref);
    if (state.captured <= 0) throw new PaymentRejectedError('only a captured payment can be disputed');
    this.options.events?.emit('charge.dispute.created', {
      id: `dp_${ref}`,
      object: 'dispute',
      amount: state.captured,
      currency: state.currency.toLowerCase(),
      charge: `ch_${ref}`,
      payment_intent: ref,
      reason,
      status: 'needs_response',
    });
  }

  /** The payment intent as Stripe would show it (the object of payment_intent.* events). */
  async intentObject(ref: string): Promise<LedgerIntent | undefined> {
    const state = await this.state(ref);
    if (!state.status) return undefined;
    return {
      id: ref,
      object: 'payment_intent',
      amount: state.requested,
      amount_capturable: state.status === 'requires_capture' ? state.authorized : 0,
      amount_received: state.captured,
      currency: state.currency.toLowerCase(),
      capture_method: 'manual',
      status: state.status,
      latest_charge: state.authorized > 0 ? `ch_${ref}` : null,
      metadata: state.reference ? { reference: state.reference } : {},
      last_payment_error: state.declineCode ? { code: 'card_declined', decline_code: state.declineCode } : null,
    };
  }

  private clientSecret(ref: string): string {
    return `${ref}_secret_${createHmac('sha256', this.options.secret).update(ref).digest('hex').slice(0, 24)}`;
  }

  private validClientSecret(ref: string, given: string): boolean {
    const expected = Buffer.from(this.clientSecret(ref));
    const actual = Buffer.from(given);
    return ref.length > 0 && expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  private async emitIntent(ref: string, type: string): Promise<void> {
    if (!this.options.events) return;
    const intent = await this.intentObject(ref);
    if (intent) this.options.events.emit(type, intent);
  }

  private async emitCharge(ref: string, type: string): Promise<void> {
    if (!this.options.events) return;
    const state = await this.state(ref);
    this.options.events.emit(type, {
      id: `ch_${ref}`,
      object: 'charge',
      amount: state.authorized,
      amount_captured: state.captured,
      amount_refunded: state.refunded,
      refunded: state.captured > 0 && state.refunded >= state.captured,
      currency: state.currency.toLowerCase(),
      payment_intent: ref,
      metadata: state.reference ? { reference: state.reference } : {},
    });
  }

  async findAuthorization(req: { idempotencyKey: string; reference: string }): Promise<string | undefined> {
    const op = await this.find(req.idempotencyKey);
    return op && op.operation === 'authorize' && op.outcome !== 'declined' ? op.paymentRef : undefined;
  }

  async findRefund(req: { ref: string; idempotencyKey: string }): Promise<{ refundRef: string; amount: number } | undefined> {
    const op = await this.find(req.idempotencyKey);
    return op && op.operation === 'refund' && op.paymentRef === req.ref ? { refundRef: `lre_${op.idempotencyKey}`, amount: op.amount } : undefined;
  }

  private async doAuthorize(req: AuthorizeRequest): Promise<Authorization> {
    // Stripe answers an unknown payment method with invalid_request_error / resource_missing
    if (req.paymentToken === UNKNOWN_METHOD_TOKEN) throw new PaymentRejectedError('resource_missing');
    const decline = DECLINES[req.paymentToken];
    const threeDS = THREE_D_SECURE[req.paymentToken];
    const op = await this.record(req.idempotencyKey, {
      operation: 'authorize',
      paymentRef: `lpi_${req.idempotencyKey}`,
      amount: req.amount,
      currency: req.currency,
      outcome: decline ? 'declined' : threeDS ? 'requires_action' : 'authorized',
      // a token that always fails 3-D Secure carries the failure it will end in
      declineCode: decline ?? (threeDS === 'fails' ? 'authentication_failed' : null),
      reference: req.reference,
    });
    if (op.fresh) {
      await this.emitIntent(
        op.paymentRef,
        op.outcome === 'declined' ? 'payment_intent.payment_failed' : op.outcome === 'requires_action' ? 'payment_intent.requires_action' : 'payment_intent.amount_capturable_updated',
      );
    }
    // a replay answers with where the payment stands now (the customer may have passed 3-D Secure since)
    const now = await this.readAuthorization(op.paymentRef);
    if (!now || now.status === 'declined') throw new PaymentDeclinedError(now?.declineCode ?? op.declineCode ?? 'card_declined');
    if (req.paymentToken === SLOW_TOKEN && op.fresh) await sleep(this.options.slowResponseMs);
    if (now.status === 'requires_action') return { ref: op.paymentRef, amount: op.amount, currency: op.currency, status: 'requires_action', clientSecret: now.clientSecret };
    return { ref: op.paymentRef, amount: op.amount, currency: op.currency, status: 'authorized' };
  }

  private doCapture(req: CaptureRequest): Promise<{ ref: string; amount: number }> {
    return this.onePaymentAtATime(req.ref, async (db) => {
      const state = await this.state(req.ref, db);
      const replay = await this.find(req.idempotencyKey, db);
      if (replay) return { ref: replay.paymentRef, amount: replay.amount };
      if (!state.authorized) throw new PaymentRejectedError('no such authorization');
      if (state.voided) throw new PaymentRejectedError('the authorization was voided');
      if (state.captured > 0) throw new PaymentRejectedError('already captured');
      if (req.amount > state.authorized) throw new PaymentRejectedError('capture exceeds the authorization');
      const op = await this.record(req.idempotencyKey, { operation: 'capture', paymentRef: req.ref, amount: req.amount, currency: req.currency, outcome: 'captured' }, db);
      return { ref: op.paymentRef, amount: op.amount };
    }).then(async (result) => {
      await this.emitIntent(req.ref, 'payment_intent.succeeded');
      return result;
    });
  }

  private async doVoid(req: VoidRequest): Promise<void> {
    const fresh = await this.onePaymentAtATime(req.ref, async (db) => {
      const state = await this.state(req.ref, db);
      // an intent waiting for 3-D Secure is cancelled too: it can never authorize afterwards
      if (state.voided || !state.status || state.status === 'requires_payment_method') return false;
      if (state.captured > 0) throw new PaymentRejectedError('a captured payment cannot be voided');
      const op = await this.record(req.idempotencyKey, { operation: 'void', paymentRef: req.ref, amount: 0, currency: state.currency, outcome: 'voided', reference: state.reference ?? null }, db);
      return op.fresh;
    });
    if (fresh) await this.emitIntent(req.ref, 'payment_intent.canceled');
  }

  private doRefund(req: RefundRequest): Promise<{ refundRef: string; amount: number }> {
    return this.onePaymentAtATime(req.ref, async (db) => {
      const replay = await this.find(req.idempotencyKey, db);
      if (replay) return { refundRef: `lre_${replay.idempotencyKey}`, amount: replay.amount };
      const state = await this.state(req.ref, db);
      if (req.amount <= 0 || req.amount > state.captured - state.refunded) throw new PaymentRejectedError('refund exceeds what is captured');
      const op = await this.record(req.idempotencyKey, { operation: 'refund', paymentRef: req.ref, amount: req.amount, currency: req.currency, outcome: 'refunded' }, db);
      return { refundRef: `lre_${op.idempotencyKey}`, amount: op.amount };
    }).then(async (result) => {
      await this.emitCharge(req.ref, 'charge.refunded');
      return result;
    });
  }

  /** Operations on one payment run one at a time, as a processor's would (db/stores/local-gateway-ledger.ts). */
  private onePaymentAtATime<T>(ref: string, run: (db: DbOrTx) => Promise<T>): Promise<T> {
    return onePaymentAtATime(this.db, ref, run);
  }

  /** Stores the operation under its key in the ledger, or returns what that key stored first. */
  private async record(idempotencyKey: string, values: Parameters<typeof recordOperation>[2], db: DbOrTx = this.db): Promise<LedgerOperation & { fresh: boolean }> {
    const op = await recordOperation(db, idempotencyKey, values);
    if (!op) throw new GatewayUnavailableError('ledger row vanished');
    return op;
  }

  private find(idempotencyKey: string, db: DbOrTx = this.db): Promise<LedgerOperation | undefined> {
    return findOperation(db, idempotencyKey);
  }

  /** What the ledger says about one payment. */
  state(ref: string, db: DbOrTx = this.db): Promise<LedgerPayment> {
    return ledgerPayment(db, ref);
  }

  /** Runs one operation through the injected faults (dev and fault harness only). */
  private async withFaults<T>(operation: GatewayOperation, run: () => Promise<T>): Promise<T> {
    const f = this.faults;
    if (!f || (f.operations && !f.operations.includes(operation))) return run();
    f.count -= 1;
    if (f.count <= 0) this.faults = null;
    if (f.mode === 'lost') {
      await run();
      throw new GatewayUnavailableError('local gateway fault injected: the reply was lost after the operation');
    }
    if (f.mode === 'timeout') await sleep(this.options.slowResponseMs);
    if (f.mode === 'reject') throw new PaymentRejectedError('local gateway fault injected: refused');
    throw new GatewayUnavailableError('local gateway fault injected: 500');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
