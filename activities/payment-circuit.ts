import { Context } from '@temporalio/activity';
import { isCircuitOpen, type CircuitBreakers } from '../db/stores/circuit-breakers';
import { businessFailure } from './failures';
import type { AuthorizePaymentInput, MoneyReturned, VoidPaymentInput } from './payment';

interface PaymentSteps {
  authorizePayment(req: AuthorizePaymentInput): Promise<{ paymentRef: string }>;
  voidPayment(req: VoidPaymentInput): Promise<MoneyReturned>;
}

/**
 * The checkout's authorization while the gateway's breaker is open (issue 19). The step runs
 * before the storefront's answer, with stock held: rather than retry for the length of its
 * retry budget, an authorization the breaker refused is a business failure
 * (`payment_unavailable`), so the saga compensates at once and the storefront gets a 503 with
 * Retry-After.
 *
 * Its compensation (voidPayment) asks the gateway what the authorization did, which would wait
 * for the breaker to close before the hold is released. So each authorization's fate is marked
 * by its idempotency key: `dispatched` by the gateway's breaker wrapper once an attempt is
 * admitted (activities/gateways/index.ts), `refused` here when the breaker refused it and no
 * attempt was ever admitted (the mark never overwrites `dispatched`). Only a `refused` one
 * skips the gateway in voidPayment: it never reached it. Any other mark, or none, asks the
 * gateway as before.
 *
 * Capture, refunds and the compensations themselves keep retrying through the breaker (its
 * refusal is a GatewayUnavailableError): a placed order is never undone by an open breaker.
 */
/** The attempt number of the activity running now (1 outside an activity, e.g. a direct call). */
function attemptOfThisActivity(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

export function withPaymentCircuit<T extends PaymentSteps>(activities: T, breakers: CircuitBreakers | undefined): T {
  if (!breakers) return activities;
  const breaker = breakers.paymentGateway;
  const { authorizePayment, voidPayment } = activities;
  return {
    ...activities,
    async authorizePayment(req: AuthorizePaymentInput) {
      try {
        return await authorizePayment(req);
      } catch (err) {
        if (!isCircuitOpen(err)) throw err;
        // Only a first attempt can say "never sent": a later one follows an attempt that may have
        // reached the gateway, and a lost `dispatched` mark must not be overwritten by `refused`
        // (Redis may lose an acknowledged write) — without the mark, the void asks the gateway.
        if (attemptOfThisActivity() === 1) await breaker.markCall(req.idempotencyKey, 'refused').catch(() => undefined);
        throw businessFailure('payment_unavailable', 'the payment service is unavailable; nothing was charged', {
          retryAfterSeconds: Math.max(1, Math.ceil(err.retryAfterMs / 1000)),
        });
      }
    },
    async voidPayment(req: VoidPaymentInput) {
      // reconciliation already has the gateway's word: it always goes through
      // an unseen attempt's void always goes through too: it closes the key (the breaker's
      // `refused` says nothing of a stale re-run that may send it later)
      const fate = req.askGateway || req.onlyIfAttempted ? undefined : await breaker.callFate(req.authorization.idempotencyKey).catch(() => undefined);
      if (fate === 'refused') return { action: 'none', amount: 0, currency: req.authorization.amount.currency } satisfies MoneyReturned;
      return voidPayment(req);
    },
  };
}
