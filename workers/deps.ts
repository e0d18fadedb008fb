import type { Client } from '@temporalio/client';
import type { ActivityDeps } from '../activities';
import { createPaymentGateway } from '../activities/gateways';
import { withMailBreaker } from '../activities/gateways/breaker-mailer';
import { createMailer } from '../activities/gateways/mailer';
import type { Config } from '../config';
import type { Databases } from '../db/client';
import type { RedisClient } from '../db/redis';
import { CartStore } from '../db/stores/cart';
import { RecommendationStore } from '../db/stores/recommendations';
import { CircuitBreakers } from '../db/stores/circuit-breakers';
import { SearchIndex } from '../db/search-engine/search-index';
import type { Logger } from '../logger';
import { traceMethods } from '../telemetry/traced';
import { tracingEnabled } from '../telemetry/tracing';

/** Wires the activities' dependencies from config and the open connections. */
export function buildActivityDeps(base: { config: Config; logger: Logger; dbs: Databases; redis: RedisClient; temporal?: Client }): ActivityDeps {
  const breakers = new CircuitBreakers(base.redis, base.config.circuit, (err) => base.logger.warn({ err: String(err) }, 'circuit breaker: Redis did not answer; letting the call through'));
  const gateway = createPaymentGateway(base.config, { paymentDb: base.dbs.payment, logger: base.logger, breaker: breakers.paymentGateway });
  const mailer = withMailBreaker(createMailer(base.config.mail), breakers.smtp);
  const traced = tracingEnabled();
  return {
    ...base,
    carts: new CartStore(base.redis, base.dbs.cart, base.config.cart),
    // With tracing on, every gateway and SMTP call is a client span (Elasticsearch's client makes its own).
    gateway: traced ? traceMethods(gateway, 'payment', { 'payment.gateway': base.config.payment.gateway }) : gateway,
    mailer: traced ? traceMethods(mailer, 'smtp') : mailer,
    breakers,
    search: new SearchIndex(base.config),
    recommendations: new RecommendationStore(base.redis, base.config.recommendations.keyPrefix),
  };
}
