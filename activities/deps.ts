import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Databases } from '../db/client';
import type { CartStore } from '../db/stores/cart';
import type { RecommendationStore } from '../db/stores/recommendations';
import type { CircuitBreakers } from '../db/stores/circuit-breakers';
import type { SearchIndex } from '../db/search-engine/search-index';
import type { Logger } from '../logger';
import type { Mailer } from './gateways/mailer';
import type { PaymentGateway } from './gateways/payment-gateway';

/** What activities are built from: injected, no module-level singletons. */
export interface ActivityDeps {
  config: Config;
  logger: Logger;
  dbs: Databases;
  carts: CartStore;
  gateway: PaymentGateway;
  mailer: Mailer;
  /** The catalog's search index (Elasticsearch). */
  search: SearchIndex;
  /** "Also bought" scores (Redis, the recommendation context's own keys). */
  recommendations: RecommendationStore;
  /** The deployment's circuit breakers (the gateway and mailer above are already behind theirs). */
  breakers?: CircuitBreakers;
  /** For activities that start or signal workflows (the cart-recovery sweep). */
  temporal?: Client;
}
