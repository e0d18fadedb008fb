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

/** Wires the activities' dependencies from config and the open connections. */
export function buildActivityDeps(base: { config: Config; logger: Logger; dbs: Databases; redis: RedisClient; temporal?: Client }): ActivityDeps {
  const breakers = new CircuitBreakers(base.redis, base.config.circuit, (err) => base.logger.warn({ err: String(err) }, 'circuit breaker: Redis did not answer; letting the call through'));
  return {
    ...base,
    carts: new CartStore(base.redis, base.dbs.cart, base.config.cart),
    gateway: createPaymentGateway(base.config, { paymentDb: base.dbs.payment, logger: base.logger, breaker: breakers.paymentGateway }),
    mailer: withMailBreaker(createMailer(base.config.mail), breakers.smtp),
    breakers,
    search: new SearchIndex(base.config),
    recommendations: new RecommendationStore(base.redis, base.config.recommendations.keyPrefix),
  };
}
