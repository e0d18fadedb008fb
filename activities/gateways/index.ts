import type { Config } from '../../config';
import type { Db } from '../../db/client';
import { LocalGateway } from './local-gateway';
import type { PaymentGateway } from './payment-gateway';
import { StripeGateway } from './stripe-gateway';

export function createPaymentGateway(config: Pick<Config, 'payment'>, deps: { paymentDb: Db }): PaymentGateway {
  return config.payment.gateway === 'stripe' ? new StripeGateway(config.payment) : new LocalGateway(deps.paymentDb);
}
