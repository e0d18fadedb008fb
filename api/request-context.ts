import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger';
import { tracingEnabled } from '../telemetry/tracing';

/** A caller's X-Request-Id is kept when it is short and plain (no spaces, no control bytes); otherwise we make one. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: the caller's X-Request-Id if sane, else a new UUID; echoed back on the answer. */
export const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = given && SANE_REQUEST_ID.test(given) ? given : randomUUID();
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
};

/**
 * The server span of the request (the root of the checkout's trace, or the child of the
 * caller's `traceparent`): everything the request starts — the Temporal update-with-start,
 * store calls — runs in its context. Its name is the method and the route template, set
 * when the answer leaves. Installed only with tracing on.
 */
function serverSpan(routeOf: (path: string) => string): RequestHandler {
  const tracer = trace.getTracer('orderly-api');
  return (req, res, next) => {
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer.startSpan(`${req.method}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method, 'url.path': req.path, 'request.id': String(res.locals.requestId) },
    }, parent);
    const ctx = trace.setSpan(parent, span);
    const path = req.path;
    res.once('finish', () => {
      const route = routeOf(path);
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    // Listeners added later (the request log's) run in the request's context too.
    context.bind(ctx, req);
    context.bind(ctx, res);
    context.with(ctx, next);
  };
}

function withErrorCode(_req: IncomingMessage, res: ServerResponse, value: Record<string, unknown>): Record<string, unknown> {
  const code = (res as ServerResponse & { locals?: { errorCode?: string } }).locals?.errorCode;
  return code ? { ...value, errorCode: code } : value;
}

/**
 * Request id, then (with tracing) the server span, then one log line per request with its
 * id, and with the trace id the logger's mixin reads from the active span.
 */
export function requestContext(logger: Logger, routeOf: (path: string) => string): RequestHandler[] {
  const log = pinoHttp({
    logger,
    genReqId: (_req: IncomingMessage, res) => String((res as unknown as { locals: { requestId: string } }).locals.requestId),
    // Probes poll /health every few seconds: its answer is the log, not a line per probe.
    autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') },
    // The error code answered (errors.ts), so a 4xx/5xx line says which.
    customSuccessObject: withErrorCode,
    customErrorObject: (req, res, _err, value: Record<string, unknown>) => withErrorCode(req, res, value),
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    // The body is never logged; headers only as far as the logger's redaction allows.
    // The path without its query: queries carry emails (GET /orders) and signed tokens (/unsubscribe).
    // An unsubscribe token in the path is left out too.
    serializers: { req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0]?.replace(/^\/unsubscribe\/[^/]+/, '/unsubscribe/{token}') }) },
  });
  return tracingEnabled() ? [requestId, serverSpan(routeOf), log] : [requestId, log];
}
