import { z } from 'zod';
import { devSigningKey, KeyFormatError, parseSigningKey, parseVerificationKeys, type SigningKey, type VerificationKey } from './usecases/customer-keys';

/**
 * The only module that reads process.env. Everything else receives a Config.
 * Dev defaults match scripts/services.sh so `npm run dev` needs no .env file.
 */

const CONTEXTS = ['catalog', 'inventory', 'cart', 'order', 'payment', 'notification', 'support', 'customer'] as const;
export type BoundedContext = (typeof CONTEXTS)[number];

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A rate-limit policy, "points/seconds" (e.g. 600/60: 600 requests a minute). */
const rateLimitPolicy = z
  .string()
  .regex(/^\d{1,9}\/\d{1,7}$/, 'points/seconds, e.g. 600/60')
  .transform((s) => {
    const [points, seconds] = s.split('/').map(Number);
    return { points: points as number, durationSeconds: seconds as number };
  })
  .refine((p) => p.points > 0 && p.durationSeconds > 0, 'points and seconds must be positive');

const envSchema = z.object({
  ORDERLY_MODE: z.enum(['dev', 'test', 'production']).default('dev'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z.string().url().default('postgres://orderly@127.0.0.1:55432/orderly'),
  CATALOG_DATABASE_URL: z.string().url().optional(),
  INVENTORY_DATABASE_URL: z.string().url().optional(),
  CART_DATABASE_URL: z.string().url().optional(),
  ORDER_DATABASE_URL: z.string().url().optional(),
  PAYMENT_DATABASE_URL: z.string().url().optional(),
  NOTIFICATION_DATABASE_URL: z.string().url().optional(),
  SUPPORT_DATABASE_URL: z.string().url().optional(),
  CUSTOMER_DATABASE_URL: z.string().url().optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),

  REDIS_URL: z.string().default('redis://127.0.0.1:56379'),
  /** Redis Cluster seed nodes, comma-separated host:port; set, it replaces REDIS_URL (ioredis Cluster). */
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((s, ctx) => {
      const nodes = (s ?? '').split(',').map((n) => n.trim()).filter(Boolean);
      const parsed = nodes.map((n) => /^([^\s:]+):(\d{1,5})$/.exec(n));
      if (parsed.some((m) => !m || Number(m[2]) < 1 || Number(m[2]) > 65535)) ctx.addIssue({ code: 'custom', message: 'comma-separated host:port, e.g. 10.0.0.1:7000,10.0.0.2:7000' });
      return parsed.flatMap((m) => (m ? [{ host: m[1] as string, port: Number(m[2]) }] : []));
    }),
  /** In a cluster, a cart write waits (WAIT) for this many replicas to have it before it answers. */
  REDIS_CLUSTER_WAIT_REPLICAS: z.coerce.number().int().min(0).max(5).default(1),
  REDIS_CLUSTER_WAIT_MS: z.coerce.number().int().min(1).max(10_000).default(250),

  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('orderly'),
  TEMPORAL_UI_URL: z.string().default('http://localhost:8233'),
  /**
   * Worker Versioning (workers/main.ts): the worker polls as version <deployment>.<build id>, so a
   * workflow runs on the build it started on (PINNED) and a new build never replays it.
   */
  TEMPORAL_WORKER_VERSIONING: bool.default(true),
  /** The Worker Deployment's name; absent = the task queue's name. */
  TEMPORAL_DEPLOYMENT_NAME: z.string().min(1).optional(),
  /** The build id; absent = a hash of the workflow bundle (it changes exactly when workflow code does). */
  ORDERLY_BUILD_ID: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,250}$/, 'letters, digits, dot, dash, underscore').optional(),
  /** Workflows' versioning behavior on a versioned worker (README "Temporal server": how a rollout moves the long-running ones). */
  TEMPORAL_VERSIONING_BEHAVIOR: z.enum(['PINNED', 'AUTO_UPGRADE']).default('PINNED'),
  /**
   * Whether a starting worker makes its version the deployment's Current Version: if-none (the
   * first deploy; later ones wait for `temporal worker deployment set-current-version`), always
   * (dev: a restart with new code takes over), never.
   */
  TEMPORAL_SET_CURRENT_VERSION: z.enum(['if-none', 'always', 'never']).optional(),

  ADMIN_API_TOKEN: z.string().optional(),

  /** Product search. The alias is what the API reads and the sync writes; reindex swaps what it points to. */
  ELASTICSEARCH_URL: z.string().url().default('http://127.0.0.1:59200'),
  SEARCH_INDEX: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,100}$/, 'a lower-case index alias').default('products'),
  /** How often stock changes are pushed to the index (the debounce for hot skus). */
  SEARCH_STOCK_SYNC_MS: z.coerce.number().int().min(100).default(1_000),
  /** A search slower than this falls back to PostgreSQL. */
  SEARCH_TIMEOUT_MS: z.coerce.number().int().min(50).default(1_500),
  /** Schedule that makes sure the sync runs and drains the outbox (missed signals, crashes). */
  SEARCH_SWEEP_SECONDS: z.coerce.number().int().positive().default(60),

  CART_TTL_SECONDS: z.coerce.number().int().positive().default(30 * 24 * 3600),
  CART_MAX_QUANTITY_PER_LINE: z.coerce.number().int().positive().default(100),
  CART_MAX_LINES: z.coerce.number().int().positive().default(100),

  CHECKOUT_WAIT_MS: z.coerce.number().int().min(0).default(10_000),
  /** How long POST /orders/:id/refunds waits before answering 202; absent = CHECKOUT_WAIT_MS. */
  REFUND_WAIT_MS: z.coerce.number().int().min(0).optional(),
  STOCK_HOLD_TTL_SECONDS: z.coerce.number().int().positive().default(15 * 60),
  HOLD_SWEEP_INTERVAL_SECONDS: z.coerce.number().int().positive().default(5 * 60),
  /**
   * How long a sold-out reading of a SKU's stock refuses checkouts without reading PostgreSQL
   * again (usecases/sold-out.ts): a restocked or given-back unit is sold again at most this
   * long after. 0: every checkout reads. Default 500 ms, 0 in ORDERLY_MODE=test.
   */
  SOLD_OUT_CACHE_MS: z.coerce.number().int().min(0).max(10_000).optional(),

  PAYMENT_GATEWAY: z.enum(['local', 'stripe']).default('local'),
  STRIPE_API_KEY: z.string().optional(),
  /** e.g. http://127.0.0.1:12111 for stripe-mock; unset means api.stripe.com */
  STRIPE_API_BASE: z.string().url().optional(),
  /** The webhook endpoint's signing secret (whsec_…); required with the stripe gateway. */
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** How old (s) a signed webhook may be before it is refused as a replay. */
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().positive().default(300),
  /** How long a checkout waits for the customer's 3-D Secure step (or a processing payment). */
  PAYMENT_ACTION_TIMEOUT_MINUTES: z.coerce.number().positive().default(15),
  /** How long an authorization stays capturable (Stripe: 7 days); a parked capture is cancelled 1 h before. */
  AUTHORIZATION_VALIDITY_HOURS: z.coerce.number().positive().default(7 * 24),
  /** Local gateway only: where it delivers its signed events (unset: it sends none). */
  LOCAL_GATEWAY_WEBHOOK_URL: z.string().url().optional(),
  /** Local gateway only: the share of events delivered twice (0–1), as Stripe may. */
  LOCAL_GATEWAY_WEBHOOK_DUPLICATES: z.coerce.number().min(0).max(1).default(0),
  /** Local gateway only: each delivery waits a random 0..N ms (so deliveries reorder). */
  LOCAL_GATEWAY_WEBHOOK_DELAY_MS: z.coerce.number().int().min(0).default(0),

  SMTP_HOST: z.string().default('127.0.0.1'),
  SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(1025),
  SMTP_SECURE: bool.default(false),
  SMTP_USER: z.string().optional(),
  SMTP_PASS: z.string().optional(),
  MAIL_FROM: z.string().default('Orderly <orders@orderly.local>'),
  STOREFRONT_URL: z.string().url().default('http://localhost:3000'),

  /** Abandoned-cart reminders: minutes after the cart's last change, comma-separated. */
  CART_REMINDER_OFFSETS_MINUTES: z
    .string()
    .default('60,1440,4320')
    .transform((s, ctx) => {
      const minutes = s.split(',').map((v) => Number(v.trim()));
      if (minutes.length === 0 || minutes.some((m) => !Number.isInteger(m) || m <= 0) || minutes.some((m, i) => i > 0 && m <= (minutes[i - 1] ?? 0))) {
        ctx.addIssue({ code: 'custom', message: 'increasing positive whole minutes, e.g. 60,1440,4320' });
      }
      return minutes;
    }),
  CART_REMINDER_DISCOUNT_CODE: z.string().max(50).optional(),
  CART_RECOVERY_SWEEP_SECONDS: z.coerce.number().int().positive().default(300),
  /** At most this many recovery runs started (or told) per sweep; the sweep's cursors carry on at the next. */
  CART_RECOVERY_SWEEP_BATCH: z.coerce.number().int().positive().default(500),
  /** A cart write that finds the reminder marker opened longer ago than this starts (or tells) the run again. */
  CART_RECOVERY_RESTART_SECONDS: z.coerce.number().positive().default(60),
  UNSUBSCRIBE_SECRET: z.string().min(16).optional(),

  /** Reconciliation Schedule: how often, how far back, and how old a checkout must be to be touched. */
  RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().positive().default(300),
  RECONCILE_LOOKBACK_HOURS: z.coerce.number().int().positive().default(48),
  RECONCILE_GRACE_SECONDS: z.coerce.number().int().min(0).default(120),

  /** "Also bought" recommendations (Redis, keys under the prefix; docs/architecture.md "Recommendations"). */
  RECOMMENDATIONS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{1,40}$/, 'letters, digits, : _ -').default('reco:'),
  /** A co-purchase counts half as much this many days later. */
  RECOMMENDATIONS_HALF_LIFE_DAYS: z.coerce.number().positive().max(3650).default(30),
  /** Orders older than this are left out of a recompute. */
  RECOMMENDATIONS_WINDOW_DAYS: z.coerce.number().int().positive().max(3650).default(365),
  /** How often the `recommendations-recompute` Schedule rebuilds the scores from the paid orders. */
  RECOMMENDATIONS_RECOMPUTE_SECONDS: z.coerce.number().int().positive().default(24 * 3600),
  /**
   * The API's poll (usecases/recommendation-answers.ts): how often it asks PostgreSQL which
   * products and stock rows changed and Redis which generation and version the scores are at.
   * Any change shows in every answer within twice this. 0: every request reads the stores.
   */
  RECOMMENDATIONS_CACHE_POLL_MS: z.coerce.number().int().min(0).max(60_000).default(200),
  /** The longest a precomputed answer read from Redis is reused in the process, whatever the polls say. */
  RECOMMENDATIONS_CACHE_MAX_AGE_SECONDS: z.coerce.number().int().positive().max(3600).default(30),
  /** Precomputed answers kept per API process (the oldest go first). */
  RECOMMENDATIONS_CACHE_ENTRIES: z.coerce.number().int().positive().default(20_000),
  /** And at most this many MiB of them per API process (estimated at 3 × their JSON), least recently used out first. */
  RECOMMENDATIONS_CACHE_MAX_MB: z.coerce.number().int().positive().max(4096).default(64),
  /**
   * How long a stopping worker (SIGTERM) keeps running its in-flight activities before the SDK
   * cancels them: the longest activity timeout (2 min, the mail sends). Kubernetes'
   * terminationGracePeriodSeconds must be longer (deploy/k8s).
   */
  WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).default(120),
  /** The worker touches this file every few seconds while it runs: the exec liveness probe of deploy/k8s. */
  WORKER_HEARTBEAT_FILE: z.string().optional(),

  /** Fault injection for the kill tests and the fault harness; ignored in production. */
  FAULT_PAUSE_BEFORE: z.string().optional(),
  FAULT_PAUSE_MS: z.coerce.number().int().min(0).default(0),
  /** Pauses FAULT_PAUSE_MS after the named activity's first attempt did its work (a kill then loses only its reply). */
  FAULT_PAUSE_AFTER: z.string().optional(),
  /** The local gateway fails its next N calls (500s or hangs) after start. */
  GATEWAY_FAULT_MODE: z.enum(['500', 'timeout', 'reject', 'lost']).optional(),
  GATEWAY_FAULT_COUNT: z.coerce.number().int().min(0).default(0),
  /** Only these gateway operations fail (comma-separated: authorize,capture,void,refund); default all. */
  GATEWAY_FAULT_OPERATIONS: z
    .string()
    .optional()
    .transform((s) => (s ? s.split(',').map((x) => x.trim()) : undefined))
    .pipe(z.array(z.enum(['authorize', 'capture', 'void', 'refund'])).optional()),

  /** Circuit breakers (payment gateway, SMTP, search): state shared through Redis by every process. */
  CIRCUIT_FAILURE_THRESHOLD: z.coerce.number().int().min(1).default(5),
  CIRCUIT_WINDOW_MS: z.coerce.number().int().min(100).default(10_000),
  CIRCUIT_COOLDOWN_MS: z.coerce.number().int().min(100).default(5_000),
  /** Search's own cool-down: a probe costs one search, so the node is tried again sooner. */
  CIRCUIT_SEARCH_COOLDOWN_MS: z.coerce.number().int().min(100).default(2_000),
  /** A gateway call slower than this counts as an outage (below the activities' 10 s start-to-close). */
  CIRCUIT_GATEWAY_TIMEOUT_MS: z.coerce.number().int().min(100).default(8_000),
  /** The Redis key prefix of one deployment's breakers; absent = the task queue (tests get their own). */
  CIRCUIT_NAMESPACE: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/).optional(),
  /** Prometheus: the API's /metrics listener and the worker's SDK endpoint; unset = off (README "Monitoring"). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  METRICS_HOST: z.string().default('0.0.0.0'),
  /** OpenTelemetry traces go to this OTLP/HTTP collector (e.g. http://otel-collector:4318); unset = no tracing. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),

  /**
   * Customer accounts (README "Accounts and tokens"). Access tokens are JWTs signed with this key:
   * a private JWK (one line of JSON; Ed25519 → EdDSA or P-256 → ES256) or a PKCS#8 PEM (`\n`
   * escapes allowed). Required in production; dev and test use a published dev key.
   */
  CUSTOMER_JWT_SIGNING_KEY: z.string().optional(),
  /** The previous signing keys' public halves, still accepted until their tokens expire: JWK(s), a JWKS or PEM(s). */
  CUSTOMER_JWT_VERIFY_KEYS: z.string().optional(),
  CUSTOMER_JWT_ISSUER: z.string().min(1).max(200).default('orderly'),
  CUSTOMER_JWT_AUDIENCE: z.string().min(1).max(200).default('orderly-storefront'),
  CUSTOMER_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(900),
  CUSTOMER_REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).default(30 * 24 * 3600),
  /** Login attempts: failed ones per account, all per client IP, in a window (Redis, shared by every API process). */
  CUSTOMER_LOGIN_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(5),
  CUSTOMER_LOGIN_ATTEMPTS_PER_IP: z.coerce.number().int().min(1).default(30),
  CUSTOMER_LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(1).default(15 * 60),
  /** Registrations (POST /customers: a 32 MiB scrypt each) per client IP in the login window; default 20 (tests: unlimited in practice). */
  CUSTOMER_REGISTRATIONS_PER_IP: z.coerce.number().int().min(1).optional(),
  /**
   * Temporal payload encryption (temporal/codec.ts): new payloads are encrypted with this key
   * (32 bytes, base64) under this id; dev and test use a published dev key, production requires one.
   */
  PAYLOAD_ENCRYPTION_KEY_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ -').optional(),
  PAYLOAD_ENCRYPTION_KEY: z.string().optional(),
  /** Keys from before a rotation, only to decrypt: `id:base64key,id:base64key`. */
  PAYLOAD_ENCRYPTION_OLD_KEYS: z.string().optional(),
  /** The HMAC secret of the CustomerEmailHash search attribute (required in production; changing it orphans old hashes). */
  CUSTOMER_EMAIL_HASH_SECRET: z.string().min(16).optional(),
  /** Origins allowed to call the codec endpoint from a browser (comma-separated); absent = TEMPORAL_UI_URL's origin. */
  CODEC_CORS_ORIGINS: z.string().optional(),

  /**
   * Set by the container image (Dockerfile): ORDERLY_MODE must then be given explicitly, so a
   * container never falls back to dev mode (its dev admin token, the local gateway's page).
   */
  ORDERLY_CONTAINER: bool.optional(),
  /** Rate limits (api/rate-limit.ts, README "Rate limits"); absent = on, except in test mode. */
  RATE_LIMITS_ENABLED: bool.optional(),
  /** Each policy as "points/seconds": every request per client IP; per logged-in customer; POST /carts with an email; POST /checkouts. */
  RATE_LIMIT_IP: rateLimitPolicy.prefault('600/60'),
  RATE_LIMIT_CUSTOMER: rateLimitPolicy.prefault('300/60'),
  RATE_LIMIT_CART_EMAIL: rateLimitPolicy.prefault('20/3600'),
  RATE_LIMIT_CHECKOUT: rateLimitPolicy.prefault('30/600'),
  /** The Redis key prefix of one deployment's counters; absent = the task queue (tests get their own). */
  RATE_LIMIT_NAMESPACE: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/).optional(),
  /**
   * Which proxies may name the client in X-Forwarded-For (Express "trust proxy"): false (none,
   * the default: the header is ignored, so it cannot be spoofed), a hop count, or the proxies'
   * addresses/subnets ("loopback", "10.0.0.0/8,172.16.0.0/12"). "true" (trust anyone) is refused.
   */
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((s, ctx): false | number | string[] => {
      const v = s.trim();
      if (v === '' || v === 'false' || v === '0') return false;
      if (/^\d{1,2}$/.test(v)) return Number(v);
      if (v === 'true') {
        ctx.addIssue({ code: 'custom', message: "name the hop count or the proxies' addresses; true would trust a forged X-Forwarded-For" });
        return z.NEVER;
      }
      const list = v.split(',').map((a) => a.trim());
      if (list.some((a) => !/^[A-Za-z0-9.:/]+$/.test(a))) {
        ctx.addIssue({ code: 'custom', message: "'false', a hop count, or a comma list of addresses / CIDRs ('loopback', 'uniquelocal' allowed)" });
        return z.NEVER;
      }
      return list;
    }),
  /** How long the unsubscribe link in a mail stays valid (RFC 8058 one-click; a later click gets 410). */
  UNSUBSCRIBE_TOKEN_TTL_DAYS: z.coerce.number().positive().max(3650).default(60),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  mode: Env['ORDERLY_MODE'];
  port: number;
  logLevel: Env['LOG_LEVEL'];
  databaseUrls: Record<BoundedContext, string>;
  databasePoolSize: number;
  redisUrl: string;
  /** Absent: one Redis at redisUrl. */
  redisCluster?: { nodes: { host: string; port: number }[] };
  temporal: { address: string; namespace: string; taskQueue: string; uiUrl: string };
  workerVersioning: {
    enabled: boolean;
    deploymentName: string;
    buildId?: string;
    defaultBehavior: 'PINNED' | 'AUTO_UPGRADE';
    setCurrent: 'if-none' | 'always' | 'never';
  };
  adminApiToken: string;
  /** Express's 'trust proxy' (TRUST_PROXY): false, a hop count, or the trusted proxies' addresses. */
  trustProxy: false | number | string[];
  search: { url: string; alias: string; stockSyncMs: number; timeoutMs: number; sweepSeconds: number };
  cart: {
    ttlSeconds: number;
    maxQuantityPerLine: number;
    maxLines: number;
    /** Replicas a cart write waits for before it answers (0 on a single node), and for how long at most. */
    replicaAcks: number;
    replicaWaitMs: number;
    /** A write re-issues the recovery start of a marker opened longer ago than this (CART_RECOVERY_RESTART_SECONDS). */
    recoveryRestartMs: number;
  };
  checkout: {
    waitMs: number;
    holdTtlSeconds: number;
    holdSweepIntervalSeconds: number;
    /** SOLD_OUT_CACHE_MS: how long a sold-out reading refuses without a new read (absent or 0: none). */
    soldOutCacheMs?: number;
  };
  refund: { waitMs: number };
  payment: {
    gateway: 'local' | 'stripe';
    stripeApiKey?: string;
    stripeApiBase?: string;
    webhookSecret: string;
    webhookToleranceSeconds: number;
    actionTimeoutMs: number;
    authorizationValidityMs: number;
    localWebhooks: { url?: string; duplicates: number; maxDelayMs: number };
  };
  mail: { host: string; port: number; secure: boolean; user?: string; pass?: string; from: string };
  storefrontUrl: string;
  faults: {
    pauseBefore?: string;
    pauseAfter?: string;
    pauseMs: number;
    gateway?: { mode: '500' | 'timeout' | 'reject' | 'lost'; count: number; operations?: ('authorize' | 'capture' | 'void' | 'refund')[] };
  };
  recovery: { offsetsMinutes: number[]; discountCode?: string; sweepSeconds: number; sweepBatch: number; unsubscribeSecret: string };
  reconcile: { intervalSeconds: number; lookbackHours: number; graceSeconds: number };
  recommendations: { keyPrefix: string; halfLifeDays: number; windowDays: number; recomputeSeconds: number; cache: { pollMs: number; maxAgeMs: number; entries: number; maxBytes: number } };
  worker: { shutdownGraceSeconds: number; heartbeatFile?: string };
  circuit: { namespace: string; failureThreshold: number; windowMs: number; cooldownMs: number; searchCooldownMs: number; gatewayTimeoutMs: number };
  telemetry: { metricsHost: string; apiMetricsPort?: number; workerMetricsPort?: number; otlpEndpoint?: string };
  customers: {
    /** Signs new access tokens; `verificationKeys` holds its public half first, then the previous keys. */
    signingKey: SigningKey;
    verificationKeys: VerificationKey[];
    issuer: string;
    audience: string;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    login: { failuresPerAccount: number; attemptsPerIp: number; windowSeconds: number; registrationsPerIp: number };
  };
  /** Personal data out of Temporal history (temporal/codec.ts, api/routes/codec.ts). */
  privacy: { payloadKeys: PayloadKeys; emailHashSecret: string; codecCorsOrigins: string[] };
  rateLimits: RateLimitsConfig;
  /** Unsubscribe links' lifetime (seconds). */
  unsubscribeTokenTtlSeconds: number;
}

export interface RateLimitPolicyConfig {
  points: number;
  durationSeconds: number;
}

export interface RateLimitsConfig {
  enabled: boolean;
  namespace: string;
  ip: RateLimitPolicyConfig;
  customer: RateLimitPolicyConfig;
  cartEmail: RateLimitPolicyConfig;
  checkout: RateLimitPolicyConfig;
}

export class ConfigError extends Error {}

/** An AES-256 key of the Temporal payload codec (temporal/codec.ts) and its id. */
export interface PayloadKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export interface PayloadKeys {
  /** Encrypts every new payload. */
  current: PayloadKey;
  /** Only decrypt (payloads written before a rotation). */
  old: PayloadKey[];
}

/** SOLD_OUT_CACHE_MS outside test mode: a given-back unit is sold again within half a second. */
export const DEFAULT_SOLD_OUT_CACHE_MS = 500;

export const KEY_BYTES = 32;

const DEV_ADMIN_TOKEN = 'dev-admin-token';
/** Signs the local gateway's events in dev and tests (a real endpoint secret comes from Stripe). */
export const DEV_WEBHOOK_SECRET = 'whsec_orderly_local_dev';

/**
 * Dev and test payload key and email-hash secret: published here, so dev histories are readable
 * by anyone with this file — production refuses them (loadConfig).
 */
export const DEV_PAYLOAD_KEY: PayloadKey = { id: 'dev', key: Buffer.from('orderly-dev-payload-key-32-bytes', 'utf8') };
const DEV_EMAIL_HASH_SECRET = 'orderly-dev-email-hash-secret';

function payloadKey(id: string, base64: string, name: string): PayloadKey {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new ConfigError(`${name}: key "${id}" must be ${KEY_BYTES} bytes, base64 (openssl rand -base64 32)`);
  return { id, key };
}

/**
 * The example values of deploy/k8s/base/secret.yaml all say "change me" (the payload key's
 * once decoded; the customer-token key there is the published dev key, refused further down):
 * production refuses them, so an example Secret applied by mistake cannot run a real shop.
 */
const EXAMPLE_SECRET = /change[-_]me/i;
const SECRET_SETTINGS = [
  'DATABASE_URL', 'CATALOG_DATABASE_URL', 'INVENTORY_DATABASE_URL', 'CART_DATABASE_URL', 'ORDER_DATABASE_URL',
  'PAYMENT_DATABASE_URL', 'NOTIFICATION_DATABASE_URL', 'SUPPORT_DATABASE_URL', 'CUSTOMER_DATABASE_URL', 'REDIS_URL',
  'ADMIN_API_TOKEN', 'UNSUBSCRIBE_SECRET', 'STRIPE_API_KEY', 'STRIPE_WEBHOOK_SECRET', 'SMTP_PASS',
  'PAYLOAD_ENCRYPTION_KEY', 'PAYLOAD_ENCRYPTION_OLD_KEYS', 'CUSTOMER_EMAIL_HASH_SECRET',
] as const;

function refuseExampleSecrets(env: Record<string, string | undefined>): void {
  for (const name of SECRET_SETTINGS) {
    const value = env[name];
    if (!value) continue;
    const decoded = name.startsWith('PAYLOAD_ENCRYPTION')
      ? value.split(/[,:]/).map((part) => Buffer.from(part.trim(), 'base64').toString('latin1')).join(' ')
      : '';
    if (EXAMPLE_SECRET.test(value) || EXAMPLE_SECRET.test(decoded)) {
      throw new ConfigError(`${name} still holds the example value in production: set a real secret`);
    }
  }
}

/** PAYLOAD_ENCRYPTION_*: the current key (dev key outside production) and the old ones. */
function payloadKeys(e: Env): PayloadKeys {
  const old = (e.PAYLOAD_ENCRYPTION_OLD_KEYS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^([A-Za-z0-9._-]{1,64}):(\S+)$/.exec(entry);
      if (!m?.[1] || !m[2]) throw new ConfigError('PAYLOAD_ENCRYPTION_OLD_KEYS: comma-separated id:base64key');
      return payloadKey(m[1], m[2], 'PAYLOAD_ENCRYPTION_OLD_KEYS');
    });
  if (!e.PAYLOAD_ENCRYPTION_KEY) {
    if (e.ORDERLY_MODE === 'production') throw new ConfigError('PAYLOAD_ENCRYPTION_KEY is required in production (openssl rand -base64 32)');
    return { current: DEV_PAYLOAD_KEY, old };
  }
  const current = payloadKey(e.PAYLOAD_ENCRYPTION_KEY_ID ?? 'k1', e.PAYLOAD_ENCRYPTION_KEY, 'PAYLOAD_ENCRYPTION_KEY');
  if (e.ORDERLY_MODE === 'production' && current.key.equals(DEV_PAYLOAD_KEY.key)) throw new ConfigError('PAYLOAD_ENCRYPTION_KEY must not be the dev key in production');
  if (old.some((k) => k.id === current.id)) throw new ConfigError(`PAYLOAD_ENCRYPTION_OLD_KEYS repeats the current key id "${current.id}"`);
  return { current, old };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty value means unset (a ConfigMap or compose file lists every variable; `KEY=` keeps the default).
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${fields}`);
  }
  const e = parsed.data;
  if (e.ORDERLY_CONTAINER && !env.ORDERLY_MODE) {
    throw new ConfigError('ORDERLY_MODE is required in a container (ORDERLY_CONTAINER is set): production, or dev/test on purpose');
  }

  if (e.ORDERLY_MODE === 'production') refuseExampleSecrets(env);

  let adminApiToken = e.ADMIN_API_TOKEN;
  if (!adminApiToken) {
    if (e.ORDERLY_MODE === 'production') throw new ConfigError('ADMIN_API_TOKEN is required in production');
    // the published dev token never guards a container, whatever its mode
    if (e.ORDERLY_CONTAINER) throw new ConfigError('ADMIN_API_TOKEN is required in a container (ORDERLY_CONTAINER is set)');
    adminApiToken = DEV_ADMIN_TOKEN;
  }
  if (e.ORDERLY_MODE === 'production' && (adminApiToken.length < 32 || adminApiToken === DEV_ADMIN_TOKEN)) {
    throw new ConfigError('ADMIN_API_TOKEN must be at least 32 characters in production');
  }
  if (e.ORDERLY_MODE === 'production' && !e.UNSUBSCRIBE_SECRET) {
    throw new ConfigError('UNSUBSCRIBE_SECRET is required in production');
  }
  if (e.ORDERLY_MODE === 'production' && !e.CUSTOMER_EMAIL_HASH_SECRET) {
    throw new ConfigError('CUSTOMER_EMAIL_HASH_SECRET is required in production');
  }
  const uiOrigin = (() => {
    try {
      return new URL(e.TEMPORAL_UI_URL).origin;
    } catch {
      return undefined;
    }
  })();
  const codecCorsOrigins = e.CODEC_CORS_ORIGINS
    ? e.CODEC_CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean)
    : uiOrigin ? [uiOrigin] : [];
  if (e.PAYMENT_GATEWAY === 'stripe' && !e.STRIPE_API_KEY) {
    throw new ConfigError('STRIPE_API_KEY is required when PAYMENT_GATEWAY=stripe');
  }
  if (e.ORDERLY_MODE === 'production' && !e.STRIPE_WEBHOOK_SECRET) {
    throw new ConfigError('STRIPE_WEBHOOK_SECRET is required in production');
  }

  const customers = customerTokenKeys(e);

  const contextUrl: Record<BoundedContext, string | undefined> = {
    catalog: e.CATALOG_DATABASE_URL,
    inventory: e.INVENTORY_DATABASE_URL,
    cart: e.CART_DATABASE_URL,
    order: e.ORDER_DATABASE_URL,
    payment: e.PAYMENT_DATABASE_URL,
    notification: e.NOTIFICATION_DATABASE_URL,
    support: e.SUPPORT_DATABASE_URL,
    customer: e.CUSTOMER_DATABASE_URL,
  };
  const databaseUrls = Object.fromEntries(
    CONTEXTS.map((c) => [c, contextUrl[c] ?? e.DATABASE_URL]),
  ) as Record<BoundedContext, string>;

  return {
    mode: e.ORDERLY_MODE,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    databaseUrls,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    redisUrl: e.REDIS_URL,
    redisCluster: e.REDIS_CLUSTER_NODES.length > 0 ? { nodes: e.REDIS_CLUSTER_NODES } : undefined,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      uiUrl: e.TEMPORAL_UI_URL,
    },
    workerVersioning: {
      enabled: e.TEMPORAL_WORKER_VERSIONING,
      deploymentName: e.TEMPORAL_DEPLOYMENT_NAME ?? e.TEMPORAL_TASK_QUEUE,
      buildId: e.ORDERLY_BUILD_ID,
      defaultBehavior: e.TEMPORAL_VERSIONING_BEHAVIOR,
      setCurrent: e.TEMPORAL_SET_CURRENT_VERSION ?? (e.ORDERLY_MODE === 'dev' ? 'always' : 'if-none'),
    },
    adminApiToken,
    search: {
      url: e.ELASTICSEARCH_URL,
      alias: e.SEARCH_INDEX,
      stockSyncMs: e.SEARCH_STOCK_SYNC_MS,
      timeoutMs: e.SEARCH_TIMEOUT_MS,
      sweepSeconds: e.SEARCH_SWEEP_SECONDS,
    },
    cart: {
      ttlSeconds: e.CART_TTL_SECONDS,
      maxQuantityPerLine: e.CART_MAX_QUANTITY_PER_LINE,
      maxLines: e.CART_MAX_LINES,
      replicaAcks: e.REDIS_CLUSTER_NODES.length > 0 ? e.REDIS_CLUSTER_WAIT_REPLICAS : 0,
      replicaWaitMs: e.REDIS_CLUSTER_WAIT_MS,
      recoveryRestartMs: Math.round(e.CART_RECOVERY_RESTART_SECONDS * 1000),
    },
    checkout: {
      waitMs: e.CHECKOUT_WAIT_MS,
      holdTtlSeconds: e.STOCK_HOLD_TTL_SECONDS,
      holdSweepIntervalSeconds: e.HOLD_SWEEP_INTERVAL_SECONDS,
      soldOutCacheMs: e.SOLD_OUT_CACHE_MS ?? (e.ORDERLY_MODE === 'test' ? 0 : DEFAULT_SOLD_OUT_CACHE_MS),
    },
    refund: { waitMs: e.REFUND_WAIT_MS ?? e.CHECKOUT_WAIT_MS },
    payment: {
      gateway: e.PAYMENT_GATEWAY,
      stripeApiKey: e.STRIPE_API_KEY,
      stripeApiBase: e.STRIPE_API_BASE,
      // dev and tests sign and verify with a published dev secret when none is set (never in production: checked above)
      webhookSecret: e.STRIPE_WEBHOOK_SECRET ?? DEV_WEBHOOK_SECRET,
      webhookToleranceSeconds: e.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
      actionTimeoutMs: Math.round(e.PAYMENT_ACTION_TIMEOUT_MINUTES * 60_000),
      authorizationValidityMs: Math.round(e.AUTHORIZATION_VALIDITY_HOURS * 3_600_000),
      localWebhooks: {
        url: e.LOCAL_GATEWAY_WEBHOOK_URL,
        duplicates: e.LOCAL_GATEWAY_WEBHOOK_DUPLICATES,
        maxDelayMs: e.LOCAL_GATEWAY_WEBHOOK_DELAY_MS,
      },
    },
    mail: {
      host: e.SMTP_HOST,
      port: e.SMTP_PORT,
      secure: e.SMTP_SECURE,
      user: e.SMTP_USER,
      pass: e.SMTP_PASS,
      from: e.MAIL_FROM,
    },
    storefrontUrl: e.STOREFRONT_URL,
    recovery: {
      offsetsMinutes: e.CART_REMINDER_OFFSETS_MINUTES,
      discountCode: e.CART_REMINDER_DISCOUNT_CODE,
      sweepSeconds: e.CART_RECOVERY_SWEEP_SECONDS,
      sweepBatch: e.CART_RECOVERY_SWEEP_BATCH,
      unsubscribeSecret: e.UNSUBSCRIBE_SECRET ?? 'dev-unsubscribe-secret-not-for-production',
    },
    reconcile: {
      intervalSeconds: e.RECONCILE_INTERVAL_SECONDS,
      lookbackHours: e.RECONCILE_LOOKBACK_HOURS,
      graceSeconds: e.RECONCILE_GRACE_SECONDS,
    },
    recommendations: {
      keyPrefix: e.RECOMMENDATIONS_KEY_PREFIX,
      halfLifeDays: e.RECOMMENDATIONS_HALF_LIFE_DAYS,
      windowDays: e.RECOMMENDATIONS_WINDOW_DAYS,
      recomputeSeconds: e.RECOMMENDATIONS_RECOMPUTE_SECONDS,
      cache: { pollMs: e.RECOMMENDATIONS_CACHE_POLL_MS, maxAgeMs: e.RECOMMENDATIONS_CACHE_MAX_AGE_SECONDS * 1000, entries: e.RECOMMENDATIONS_CACHE_ENTRIES, maxBytes: e.RECOMMENDATIONS_CACHE_MAX_MB * 2 ** 20 },
    },
    worker: { shutdownGraceSeconds: e.WORKER_SHUTDOWN_GRACE_SECONDS, heartbeatFile: e.WORKER_HEARTBEAT_FILE },
    circuit: {
      namespace: e.CIRCUIT_NAMESPACE ?? e.TEMPORAL_TASK_QUEUE,
      failureThreshold: e.CIRCUIT_FAILURE_THRESHOLD,
      windowMs: e.CIRCUIT_WINDOW_MS,
      cooldownMs: e.CIRCUIT_COOLDOWN_MS,
      searchCooldownMs: e.CIRCUIT_SEARCH_COOLDOWN_MS,
      gatewayTimeoutMs: e.CIRCUIT_GATEWAY_TIMEOUT_MS,
    },
    telemetry: {
      metricsHost: e.METRICS_HOST,
      apiMetricsPort: e.METRICS_PORT,
      workerMetricsPort: e.WORKER_METRICS_PORT,
      otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    },
    privacy: {
      payloadKeys: payloadKeys(e),
      emailHashSecret: e.CUSTOMER_EMAIL_HASH_SECRET ?? DEV_EMAIL_HASH_SECRET,
      codecCorsOrigins,
    },
    rateLimits: {
      enabled: e.RATE_LIMITS_ENABLED ?? e.ORDERLY_MODE !== 'test',
      namespace: e.RATE_LIMIT_NAMESPACE ?? e.TEMPORAL_TASK_QUEUE,
      ip: e.RATE_LIMIT_IP,
      customer: e.RATE_LIMIT_CUSTOMER,
      cartEmail: e.RATE_LIMIT_CART_EMAIL,
      checkout: e.RATE_LIMIT_CHECKOUT,
    },
    unsubscribeTokenTtlSeconds: Math.round(e.UNSUBSCRIBE_TOKEN_TTL_DAYS * 86_400),
    customers: {
      ...customers,
      issuer: e.CUSTOMER_JWT_ISSUER,
      audience: e.CUSTOMER_JWT_AUDIENCE,
      accessTokenTtlSeconds: e.CUSTOMER_ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.CUSTOMER_REFRESH_TOKEN_TTL_SECONDS,
      login: { failuresPerAccount: e.CUSTOMER_LOGIN_FAILURES_PER_ACCOUNT, attemptsPerIp: e.CUSTOMER_LOGIN_ATTEMPTS_PER_IP, windowSeconds: e.CUSTOMER_LOGIN_WINDOW_SECONDS,
        registrationsPerIp: e.CUSTOMER_REGISTRATIONS_PER_IP ?? (e.ORDERLY_MODE === 'test' ? 1_000_000 : 20),
      },
    },
    faults:
      e.ORDERLY_MODE === 'production'
        ? { pauseMs: 0 }
        : {
            pauseBefore: e.FAULT_PAUSE_BEFORE,
            pauseAfter: e.FAULT_PAUSE_AFTER,
            pauseMs: e.FAULT_PAUSE_MS,
            gateway: e.GATEWAY_FAULT_MODE
              ? { mode: e.GATEWAY_FAULT_MODE, count: e.GATEWAY_FAULT_COUNT, operations: e.GATEWAY_FAULT_OPERATIONS }
              : undefined,
          },
  };
}

/**
 * CUSTOMER_JWT_*: the signing key (the published dev key outside production; production refuses
 * to start without a key of its own) and the verification keys: the signing key's public half,
 * then the previous keys. Two keys with one kid would make a token's key ambiguous: refused.
 */
function customerTokenKeys(e: Env): { signingKey: SigningKey; verificationKeys: VerificationKey[] } {
  try {
    if (!e.CUSTOMER_JWT_SIGNING_KEY && e.ORDERLY_MODE === 'production') throw new ConfigError('CUSTOMER_JWT_SIGNING_KEY is required in production');
    const signingKey = e.CUSTOMER_JWT_SIGNING_KEY ? parseSigningKey(e.CUSTOMER_JWT_SIGNING_KEY) : devSigningKey();
    if (e.ORDERLY_MODE === 'production' && signingKey.publicKey.equals(devSigningKey().publicKey)) throw new ConfigError('CUSTOMER_JWT_SIGNING_KEY must not be the dev key in production');
    const previous = e.CUSTOMER_JWT_VERIFY_KEYS ? parseVerificationKeys(e.CUSTOMER_JWT_VERIFY_KEYS) : [];
    // the dev key's private half is published: in production it may neither sign nor verify
    if (e.ORDERLY_MODE === 'production' && previous.some((k) => k.publicKey.equals(devSigningKey().publicKey))) {
      throw new ConfigError('CUSTOMER_JWT_VERIFY_KEYS must not hold the dev key in production');
    }
    const verificationKeys = [signingKey, ...previous.filter((k) => !k.publicKey.equals(signingKey.publicKey))].map(({ kid, alg, publicKey }) => ({ kid, alg, publicKey }));
    if (new Set(verificationKeys.map((k) => k.kid)).size !== verificationKeys.length) throw new ConfigError('CUSTOMER_JWT_VERIFY_KEYS: two different keys with the same kid');
    return { signingKey, verificationKeys };
  } catch (err) {
    if (err instanceof KeyFormatError) throw new ConfigError(`CUSTOMER_JWT_SIGNING_KEY / CUSTOMER_JWT_VERIFY_KEYS: ${err.message}`);
    throw err;
  }
}
