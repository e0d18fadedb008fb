import { createServer, type Server } from 'node:http';
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Databases } from '../db/client';
import { ordersNeedingAttention, searchOutboxLag } from '../db/stores/operations-gauges';
import { openApiDocument } from './openapi';

/**
 * The API's Prometheus metrics (README "Monitoring"): request rate and latency per route,
 * checkout and refund answers by outcome and code, and two gauges read from the stores on
 * scrape (orders parked for support, search-index lag). One registry per app, so tests can
 * run several apps in one process.
 */
export interface ApiMetrics {
  registry: Registry;
  /** Times every request; counts the checkout and refund answers. Mount first. */
  middleware: RequestHandler;
}

/** Gauges read from PostgreSQL are cached this long: a scrape every few seconds costs one query each. */
const GAUGE_CACHE_MS = 10_000;

export interface ApiMetricsOptions {
  /** Node process metrics (heap, event loop lag, GC) under orderly_api_: the server's registry only. */
  processMetrics?: boolean;
  gaugeCacheMs?: number;
}

/** The documented route templates (`/orders/{orderId}/refunds`), literal ones first: labels never carry ids. */
export function routeMatcher(): (path: string) => string {
  // The document itself is served beside the paths it describes.
  const templates = [...Object.keys(openApiDocument.paths as Record<string, unknown>), '/openapi.json']
    .map((url) => ({
      url,
      params: (url.match(/\{/g) ?? []).length,
      pattern: new RegExp(`^${url.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}/?$`),
    }))
    .sort((a, b) => a.params - b.params);
  return (path) => templates.find((t) => t.pattern.test(path))?.url ?? 'unmatched';
}

/** A value computed at most every `ms`; a failed read keeps the last value. */
function cached<T>(ms: number, read: () => Promise<T>, initial: T): () => Promise<T> {
  let value = initial;
  let at = 0;
  return async () => {
    if (at === 0 || Date.now() - at >= ms) {
      at = Date.now();
      value = await read().catch(() => value);
    }
    return value;
  };
}

export function createApiMetrics(dbs: Pick<Databases, 'order' | 'catalog'>, opts: ApiMetricsOptions = {}): ApiMetrics {
  const cacheMs = opts.gaugeCacheMs ?? GAUGE_CACHE_MS;
  const registry = new Registry();
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'orderly_api_' });

  const requests = new Histogram({
    name: 'orderly_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status class (2xx, 4xx, 5xx): rate from _count, latency from the buckets',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const checkouts = new Counter({
    name: 'orderly_checkouts_total',
    help: 'POST /checkouts answers: outcome placed (201), pending (202) or failed (4xx/5xx) with its error code',
    labelNames: ['outcome', 'code'] as const,
    registers: [registry],
  });
  const refunds = new Counter({
    name: 'orderly_refunds_total',
    help: "POST /orders/{orderId}/refunds answers: the refund's status when it settled within the wait (201: succeeded or failed), pending (202), or rejected with the error code",
    labelNames: ['outcome', 'code'] as const,
    registers: [registry],
  });
  const parked = cached(cacheMs, () => ordersNeedingAttention(dbs.order), 0);
  new Gauge({
    name: 'orderly_orders_needing_attention',
    help: 'Orders parked for support (status needs_attention): a checkout that could not finish by itself',
    registers: [registry],
    async collect() {
      this.set(await parked());
    },
  });
  const outbox = cached(cacheMs, () => searchOutboxLag(dbs.catalog), { depth: 0, oldestSeconds: 0 });
  new Gauge({
    name: 'orderly_search_outbox_oldest_seconds',
    help: 'Age of the oldest catalog change not yet in the search index (0 when the outbox is empty): the search lag',
    registers: [registry],
    async collect() {
      this.set((await outbox()).oldestSeconds);
    },
  });
  new Gauge({
    name: 'orderly_search_outbox_depth',
    help: 'Catalog changes waiting for the search sync',
    registers: [registry],
    async collect() {
      this.set((await outbox()).depth);
    },
  });

  const routeOf = routeMatcher();
  const middleware: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    // Read now: routers strip their mount path from req.url while they run.
    const path = req.path;
    res.once('finish', () => {
      const route = routeOf(path);
      const status = res.statusCode;
      requests.observe({ method: req.method, route, status_class: `${Math.floor(status / 100)}xx` }, Number(process.hrtime.bigint() - started) / 1e9);
      if (req.method !== 'POST') return;
      const code = typeof res.locals.errorCode === 'string' ? res.locals.errorCode : 'none';
      if (route === '/checkouts') {
        checkouts.inc({ outcome: status === 201 ? 'placed' : status === 202 ? 'pending' : 'failed', code });
      } else if (route === '/orders/{orderId}/refunds') {
        const answered = typeof res.locals.answerStatus === 'string' ? res.locals.answerStatus : 'settled';
        refunds.inc({ outcome: status === 201 ? answered : status === 202 ? 'pending' : 'rejected', code });
      }
    });
    // The refund's own status (succeeded/failed) when it settled within the wait.
    if (req.method === 'POST') {
      const json = res.json.bind(res);
      res.json = (body: unknown) => {
        const status = (body as { status?: unknown } | null)?.status;
        if (typeof status === 'string') res.locals.answerStatus = status;
        return json(body);
      };
    }
    next();
  };
  return { registry, middleware };
}

/**
 * /metrics on a listener of its own (METRICS_PORT): Prometheus scrapes the pod's port, the
 * shop's ingress never routes it, and no scraper holds the support token (README "Monitoring").
 */
export function serveMetrics(metrics: ApiMetrics, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
