import type { Config } from '../../config';
import type { Db } from '../../db/client';
import { LocalGateway } from './local-gateway';
import type { PaymentGateway } from './payment-gateway';
import { StripeGateway } from './stripe-gateway';

export function createPaymentGateway(config: Pick<Config, 'payment' | 'faults'>, deps: { paymentDb: Db }): PaymentGateway {
  if (config.payment.gateway === 'stripe') return new StripeGateway(config.payment);
  const local = new LocalGateway(deps.paymentDb);
  // fault harness only (never in production: config drops it there)
  if (config.faults.gateway) local.setFaults(config.faults.gateway);
  return local;
}
