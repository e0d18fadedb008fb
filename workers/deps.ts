import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { ActivityDeps } from '../activities';
import { createPaymentGateway } from '../activities/gateways';
import { createMailer } from '../activities/gateways/mailer';
import type { Config } from '../config';
import type { Databases } from '../db/client';
import { CartStore } from '../db/stores/cart';
import { SearchIndex } from '../db/search-engine/search-index';
import type { Logger } from '../logger';
import { traceMethods } from '../telemetry/traced';
import { tracingEnabled } from '../telemetry/tracing';

/** Wires the activities' dependencies from config and the open connections. */
export function buildActivityDeps(base: { config: Config; logger: Logger; dbs: Databases; redis: Redis; temporal?: Client }): ActivityDeps {
  const gateway = createPaymentGateway(base.config, { paymentDb: base.dbs.payment });
  const mailer = createMailer(base.config.mail);
  const traced = tracingEnabled();
  return {
    ...base,
    carts: new CartStore(base.redis, base.dbs.cart, base.config.cart),
    // With tracing on, every gateway and SMTP call is a client span (Elasticsearch's client makes its own).
    gateway: traced ? traceMethods(gateway, 'payment', { 'payment.gateway': base.config.payment.gateway }) : gateway,
    mailer: traced ? traceMethods(mailer, 'smtp') : mailer,
    search: new SearchIndex(base.config),
  };
}
