import type { Config } from '../../config';
import type { Db } from '../../db/client';
import type { Logger } from '../../logger';
import type { CircuitBreaker } from '../../db/stores/circuit-breakers';
import { DispatchMarkUnavailableError, withPaymentBreaker } from './breaker-gateway';
import { LocalGateway } from './local-gateway';
import { LocalWebhooks } from './local-webhooks';
import type { PaymentGateway } from './payment-gateway';
import { StripeGateway } from './stripe-gateway';

function connectPaymentGateway(config: Pick<Config, 'payment' | 'faults'>, deps: { paymentDb: Db; logger?: Logger }): PaymentGateway {
  if (config.payment.gateway === 'stripe') return new StripeGateway(config.payment);
  const { url, duplicates, maxDelayMs } = config.payment.localWebhooks;
  // signed events to a running API (LOCAL_GATEWAY_WEBHOOK_URL), as Stripe sends its webhooks
  const events = url ? new LocalWebhooks({ url, secret: config.payment.webhookSecret, duplicates, maxDelayMs, logger: deps.logger }) : undefined;
  const local = new LocalGateway(deps.paymentDb, { events, secret: config.payment.webhookSecret });
  // fault harness only (never in production: config drops it there)
  if (config.faults.gateway) local.setFaults(config.faults.gateway);
  return local;
}

/** The configured gateway, behind the payment breaker when one is given (issue 19). */
export function createPaymentGateway(
  config: Pick<Config, 'payment' | 'faults'> & Partial<Pick<Config, 'circuit'>>,
  deps: { paymentDb: Db; logger?: Logger; breaker?: CircuitBreaker },
): PaymentGateway {
  const gateway = connectPaymentGateway(config, deps);
  const { breaker } = deps;
  if (!breaker || !config.circuit) return gateway;
  return withPaymentBreaker(gateway, breaker, {
    timeoutMs: config.circuit.gatewayTimeoutMs,
    // An authorization admitted past the breaker is marked: its compensation must then ask the gateway.
    // The mark is written before the call, and without it there is no call (fails closed): a re-run
    // of the local authorize step is attempt 1 again, and if the breaker refuses it, its `refused`
    // mark (SET NX) would win over a lost `dispatched` one and the void would skip a held
    // authorization. A retryable error instead: the step is retried once Redis answers.
    beforeDispatch: async (method, args) => {
      const key = method === 'authorize' ? (args[0] as { idempotencyKey?: unknown } | undefined)?.idempotencyKey : undefined;
      if (typeof key !== 'string') return;
      try {
        await breaker.markCall(key, 'dispatched');
      } catch (err) {
        deps.logger?.warn({ err, idempotencyKey: key }, 'payment breaker: the dispatched mark was not written (Redis unavailable); not authorizing');
        throw new DispatchMarkUnavailableError(key, err);
      }
    },
  });
}
