import type { Db, DbOrTx } from '../../db/client';
import { findOperation, ledgerPayment, onePaymentAtATime, recordOperation, type LedgerOperation, type LedgerPayment } from '../../db/stores/local-gateway-ledger';
import {
  GatewayUnavailableError,
  PaymentDeclinedError,
  PaymentRejectedError,
  type AuthorizeRequest,
  type Authorization,
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
type GatewayOperation = 'authorize' | 'capture' | 'void' | 'refund';

/**
 * A deterministic processor for dev and tests that keeps its own ledger (schema
 * local_gateway) and honours idempotency keys like Stripe: the same key returns the stored
 * result. `tok_timeout` authorizes first and answers late, as a real timeout can.
 */
export class LocalGateway implements PaymentGateway {
  readonly name = 'local' as const;
  private faults: LocalGatewayFaults | null = null;

  constructor(
    private readonly db: Db,
    private readonly options: { slowResponseMs: number } = { slowResponseMs: 15_000 },
  ) {}

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
    const state = await this.state(ref);
    if (state.authorized === 0) return undefined;
    return { ref, ...state };
  }

  async findAuthorization(req: { idempotencyKey: string; reference: string }): Promise<string | undefined> {
    const op = await this.find(req.idempotencyKey);
    return op && op.operation === 'authorize' && op.outcome === 'authorized' ? op.paymentRef : undefined;
  }

  async findRefund(req: { ref: string; idempotencyKey: string }): Promise<{ refundRef: string; amount: number } | undefined> {
    const op = await this.find(req.idempotencyKey);
    return op && op.operation === 'refund' && op.paymentRef === req.ref ? { refundRef: `lre_${op.idempotencyKey}`, amount: op.amount } : undefined;
  }

  private async doAuthorize(req: AuthorizeRequest): Promise<Authorization> {
    const decline = DECLINES[req.paymentToken];
    const op = await this.record(req.idempotencyKey, {
      operation: 'authorize',
      paymentRef: `lpi_${req.idempotencyKey}`,
      amount: req.amount,
      currency: req.currency,
      outcome: decline ? 'declined' : 'authorized',
      declineCode: decline ?? null,
    });
    if (op.outcome === 'declined') throw new PaymentDeclinedError(op.declineCode ?? 'card_declined');
    if (req.paymentToken === SLOW_TOKEN && op.fresh) await sleep(this.options.slowResponseMs);
    return { ref: op.paymentRef, amount: op.amount, currency: op.currency };
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
    });
  }

  private doVoid(req: VoidRequest): Promise<void> {
    return this.onePaymentAtATime(req.ref, async (db) => {
      const state = await this.state(req.ref, db);
      if (state.voided || !state.authorized) return;
      if (state.captured > 0) throw new PaymentRejectedError('a captured payment cannot be voided');
      await this.record(req.idempotencyKey, { operation: 'void', paymentRef: req.ref, amount: 0, currency: state.currency, outcome: 'voided' }, db);
    });
  }

  private doRefund(req: RefundRequest): Promise<{ refundRef: string; amount: number }> {
    return this.onePaymentAtATime(req.ref, async (db) => {
      const replay = await this.find(req.idempotencyKey, db);
      if (replay) return { refundRef: `lre_${replay.idempotencyKey}`, amount: replay.amount };
      const state = await this.state(req.ref, db);
      if (req.amount <= 0 || req.amount > state.captured - state.refunded) throw new PaymentRejectedError('refund exceeds what is captured');
      const op = await this.record(req.idempotencyKey, { operation: 'refund', paymentRef: req.ref, amount: req.amount, currency: req.currency, outcome: 'refunded' }, db);
      return { refundRef: `lre_${op.idempotencyKey}`, amount: op.amount };
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
