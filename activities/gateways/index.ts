import type { Config } from '../../config';
import type { Db } from '../../db/client';
import type { Logger } from '../../logger';
import { LocalGateway } from './local-gateway';
import { LocalWebhooks } from './local-webhooks';
import type { PaymentGateway } from './payment-gateway';
import { StripeGateway } from './stripe-gateway';

export function createPaymentGateway(config: Pick<Config, 'payment' | 'faults'>, deps: { paymentDb: Db; logger?: Logger }): PaymentGateway {
  if (config.payment.gateway === 'stripe') return new StripeGateway(config.payment);
  const { url, duplicates, maxDelayMs } = config.payment.localWebhooks;
  // signed events to a running API (LOCAL_GATEWAY_WEBHOOK_URL), as Stripe sends its webhooks
  const events = url ? new LocalWebhooks({ url, secret: config.payment.webhookSecret, duplicates, maxDelayMs, logger: deps.logger }) : undefined;
  const local = new LocalGateway(deps.paymentDb, { events, secret: config.payment.webhookSecret });
  // fault harness only (never in production: config drops it there)
  if (config.faults.gateway) local.setFaults(config.faults.gateway);
  return local;
}
