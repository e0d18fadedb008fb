import type { CircuitBreaker } from '../../db/stores/circuit-breakers';
import { GatewayUnavailableError, type PaymentGateway } from './payment-gateway';

/** The gateway's breaker refused the call: an outage answer, retried like one, given at once. */
export class PaymentCircuitOpenError extends GatewayUnavailableError {
  override name = 'PaymentCircuitOpenError';
  readonly circuitOpen = true;
  constructor(readonly retryAfterMs: number) {
    super(`payment gateway circuit is open: failing fast (retry in ${Math.ceil(retryAfterMs / 1000)} s)`);
  }
}

/**
 * An authorization's `dispatched` mark could not be written (Redis unavailable), so it was not
 * sent to the gateway: retryable (an ordinary error, not an outage of the gateway, so it is not
 * counted by the breaker). Without the mark a compensation could not tell it was ever sent.
 */
export class DispatchMarkUnavailableError extends Error {
  override name = 'DispatchMarkUnavailableError';
  constructor(readonly idempotencyKey: string, cause: unknown) {
    super(`payment breaker: the dispatched mark of ${idempotencyKey} could not be written; the authorization was not sent`, { cause });
  }
}

/**
 * The local gateway's test-harness hooks: not calls to a processor, so never guarded (a test
 * sets faults or reads the ledger while the breaker is open).
 */
const HARNESS_METHODS = new Set(['setFaults', 'state']);

/** The wrapped gateway itself, past the breaker (see `unguarded`). */
const UNGUARDED = Symbol('the gateway past the payment breaker');

/**
 * The gateway without its breaker, for a question that must reach it even while the breaker is
 * open: whether a capture whose every reply was lost went through (confirmCapture) — the very
 * outage that opens the breaker. The caller bounds the call itself. A gateway with no breaker is
 * returned as it is.
 */
export function unguarded(gateway: PaymentGateway): PaymentGateway {
  return (gateway as PaymentGateway & { [UNGUARDED]?: PaymentGateway })[UNGUARDED] ?? gateway;
}

/**
 * Any gateway behind the payment breaker. Every method is guarded, by name at call time (a
 * Proxy), so a method the interface gains later is guarded without a change here. Only
 * outages count: GatewayUnavailableError and calls slower than `timeoutMs`; a decline or a
 * refusal is the gateway answering. The result is still `instanceof` the wrapped class.
 */
export function withPaymentBreaker<G extends PaymentGateway>(
  gateway: G,
  breaker: CircuitBreaker,
  opts: { timeoutMs: number; beforeDispatch?: (method: string, args: unknown[]) => Promise<void> },
): G {
  const guarded = new Map<PropertyKey, unknown>();
  return new Proxy(gateway, {
    get(target, prop) {
      if (prop === UNGUARDED) return target;
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (typeof prop !== 'string' || HARNESS_METHODS.has(prop)) return method.bind(target);
      let wrapped = guarded.get(prop);
      if (!wrapped) {
        wrapped = (...args: unknown[]) =>
          breaker.run(() => method.apply(target, args), {
            isOutage: (err) => err instanceof GatewayUnavailableError,
            timeoutMs: opts.timeoutMs,
            onTimeout: () => new GatewayUnavailableError(`payment gateway: no answer to ${prop} within ${opts.timeoutMs} ms`),
            onOpen: (refusal) => new PaymentCircuitOpenError(refusal.retryAfterMs),
            beforeCall: opts.beforeDispatch && (() => opts.beforeDispatch?.(prop, args) ?? Promise.resolve()),
          });
        guarded.set(prop, wrapped);
      }
      return wrapped;
    },
  });
}
