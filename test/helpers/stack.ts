import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createApp } from '../../api/app';
import { createApiMetrics, type ApiMetrics } from '../../api/metrics';
import { answerUnparsableRequests } from '../../api/request-guards';
import type { ActivityDeps } from '../../activities';
import { loadConfig, type Config } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { createRedis, type RedisClient } from '../../db/redis';
import { upsertProduct } from '../../db/stores/catalog';
import { SearchIndex } from '../../db/search-engine/search-index';
import { setOnHand } from '../../db/stores/inventory';
import { createLogger, type Logger } from '../../logger';
import { temporalClientOptions } from '../../temporal/client';
import { traceRedis } from '../../telemetry/traced';
import type { Tracing } from '../../telemetry/tracing';
import { buildActivityDeps } from '../../workers/deps';
import { createWorker } from '../../workers/worker';
import { uniqueTaskQueue, workflowBundle } from './temporal';

export interface HttpResult {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
  headers: Headers;
}

export interface Stack {
  baseUrl: string;
  config: Config;
  dbs: Databases;
  redis: RedisClient;
  temporal: Client;
  /** The suite's search index (its own alias on the test node). */
  search: SearchIndex;
  activityDeps?: ActivityDeps;
  worker?: Worker;
  /** The app's Prometheus registry (serve it with api/metrics.ts serveMetrics). */
  metrics: ApiMetrics;
  http(method: string, path: string, opts?: { body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<HttpResult>;
  close(): Promise<void>;
}

/**
 * The real app on port 0 against the suite's PostgreSQL, Redis and Temporal dev server,
 * with (optionally) a worker on a task queue of its own.
 */
export async function startStack(
  opts: {
    worker?: boolean;
    env?: Record<string, string>;
    /** Tracing started by the test (telemetry/tracing.ts): the worker gets its interceptors, and needs a bundle with them. */
    tracing?: { tracing: Tracing; workflowBundle: { codePath: string } };
    logger?: Logger;
    gaugeCacheMs?: number;
    /** The API's Temporal client connects lazily to this address (e.g. a port nobody listens on: Temporal unreachable). */
    temporalAddress?: string;
  } = {},
): Promise<Stack> {
  const config = loadConfig({
    ...process.env,
    ORDERLY_MODE: 'test',
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('stack'),
    // An index alias of its own: suites share the Elasticsearch node, never an index.
    SEARCH_INDEX: `t-${randomBytes(5).toString('hex')}`,
    ...opts.env,
  });
  const logger = opts.logger ?? createLogger((process.env.STACK_LOG_LEVEL as 'silent') ?? 'silent');
  const dbs = createDatabases(config);
  const redis = createRedis(config, { maxRetriesPerRequest: 2 });
  if (opts.tracing) traceRedis(redis);
  const connection = opts.temporalAddress ? Connection.lazy({ address: opts.temporalAddress }) : await Connection.connect({ address: config.temporal.address });
  const temporal = new Client(temporalClientOptions(config, connection));
  const search = new SearchIndex(config);
  const metrics = createApiMetrics(dbs, { gaugeCacheMs: opts.gaugeCacheMs });
  const app = createApp({ config, logger, dbs, redis, temporal, search, metrics });
  // Every Temporal call a request starts — also one still waiting after the answer left (a
  // checkout or refund answered 202) — runs under this signal: close aborts them before it
  // closes the connection, so none retries on a closed channel after the suite.
  const requestCalls = new AbortController();
  const server = answerUnparsableRequests(
    createServer((req, res) => {
      void temporal.withAbortSignal(requestCalls.signal, () => {
        app(req, res);
        return new Promise<void>((resolve) => res.once('close', () => resolve()));
      });
    }).listen(0, '127.0.0.1'),
  );
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;
  let activityDeps: ActivityDeps | undefined;
  if (opts.worker) {
    // The local gateway delivers its signed events to this stack's own API (unless the test
    // chose an endpoint), so webhooks run in every test with a worker, as in `npm run dev`.
    if (!opts.env || !('LOCAL_GATEWAY_WEBHOOK_URL' in opts.env)) config.payment.localWebhooks.url ??= `${baseUrl}/webhooks/stripe`;
    nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
    activityDeps = { ...buildActivityDeps({ config, logger, dbs, redis, temporal }), search };
    worker = await createWorker({
      connection: nativeConnection,
      config,
      deps: activityDeps,
      workflowBundle: opts.tracing?.workflowBundle ?? workflowBundle(),
      tracing: opts.tracing?.tracing,
    });
    workerRun = worker.run();
  }

  return {
    baseUrl,
    config,
    dbs,
    redis,
    temporal,
    search,
    activityDeps,
    worker,
    metrics,
    async http(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      let body: string | undefined;
      if (o.rawBody !== undefined) {
        body = o.rawBody;
        headers['content-type'] ??= 'application/json';
      } else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] = 'application/json';
      }
      const res = await fetch(baseUrl + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      if (worker && workerRun) {
        worker.shutdown();
        await workerRun;
      }
      activityDeps?.mailer.close();
      await search.close();
      await nativeConnection?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      requestCalls.abort();
      await temporal.connection.close();
      redis.disconnect();
      await dbs.close();
    },
  };
}

export const uniqueSku = (prefix = 'T') => `${prefix}-${randomBytes(6).toString('hex')}`;

/** A product with stock under a fresh sku (tests share one database and run in parallel). */
export async function createProduct(
  dbs: Databases,
  p: { priceAmount?: number; onHand?: number; currency?: string; name?: string; category?: string; description?: string } = {},
): Promise<string> {
  const sku = uniqueSku();
  await upsertProduct(dbs.catalog, {
    sku,
    name: p.name ?? `Test product ${sku}`,
    description: p.description ?? 'made for a test',
    category: p.category ?? null,
    priceAmount: p.priceAmount ?? 1000,
    currency: p.currency ?? 'USD',
  });
  await setOnHand(dbs.inventory, sku, p.onHand ?? 100);
  return sku;
}
