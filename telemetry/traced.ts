import type { RedisClient } from '../db/redis';
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import type { Pool, PoolClient } from 'pg';

/**
 * Client spans for the stores and gateways, installed by hand on the objects the processes
 * build (only when tracing is on: tracing.ts). The auto-instrumentations patch modules at
 * require time, which misses modules loaded before them and never runs under jest's module
 * registry; these wrappers do the same job on the objects themselves, everywhere.
 */
const tracer = () => trace.getTracer('orderly');

function settle<T>(span: Span, result: Promise<T>): Promise<T> {
  return result.then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      span.end();
      throw err;
    },
  );
}

/** Runs `call` in a client span named `name`; the span ends when its promise settles. */
export function inSpan<T>(name: string, attributes: Attributes, call: () => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, (span) => {
    try {
      return settle(span, call());
    } catch (err) {
      return settle(span, Promise.reject(err));
    }
  });
}

/** The statement's verb and first table, e.g. `pg insert "order"."orders"`; drizzle sends parameters apart, never inline. */
function statementName(text: string): string {
  const verb = /^\s*(\w+)/.exec(text)?.[1]?.toLowerCase() ?? 'query';
  const table = /\b(?:from|into|update)\s+((?:"?\w+"?\.)?"?\w+"?)/i.exec(text)?.[1];
  return table ? `pg ${verb} ${table}` : `pg ${verb}`;
}

type QueryFn = (...args: unknown[]) => unknown;

function wrapQuery(target: { query: QueryFn }, database: string): void {
  const original = target.query.bind(target);
  target.query = (...args: unknown[]) => {
    const first = args[0];
    const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
    // The callback form is pg-internal (pool.query → client.query): trace only the promise form.
    if (typeof args[args.length - 1] === 'function') return original(...args);
    return inSpan(statementName(text), { 'db.system': 'postgresql', 'db.name': database, 'db.statement': text.slice(0, 500) }, () => original(...args) as Promise<unknown>);
  };
}

/** A span per query on this pool, whether sent by the pool or by a client checked out for a transaction. */
export function traceQueries(pool: Pool, database: string): void {
  wrapQuery(pool as unknown as { query: QueryFn }, database);
  pool.on('connect', (client: PoolClient) => wrapQuery(client as unknown as { query: QueryFn }, database));
}

/** A span per Redis command (carts, locks, the idempotency store). */
/** A Cluster client has the same sendCommand, patched the same way. */
export function traceRedis(client: RedisClient): void {
  const redis = client as Redis;
  const original = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], stream?: Parameters<Redis['sendCommand']>[1]) => {
    const span = tracer().startSpan(`redis ${command.name}`, { kind: SpanKind.CLIENT, attributes: { 'db.system': 'redis', 'db.operation': command.name } });
    const sent = original(command, stream);
    void settle(span, command.promise).catch(() => undefined);
    return sent;
  }) as Redis['sendCommand'];
}

/**
 * The object with every method that returns a promise wrapped in a span `<prefix>.<method>`
 * (the payment gateway, Stripe or local; the mailer). `instanceof` still holds.
 */
export function traceMethods<T extends object>(target: T, prefix: string, attributes: Attributes = {}): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value: unknown = Reflect.get(obj, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string' || key === 'constructor') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        let returned: unknown;
        return tracer().startActiveSpan(`${prefix}.${key}`, { kind: SpanKind.CLIENT, attributes }, (span) => {
          try {
            returned = method.apply(obj, args);
          } catch (err) {
            span.end();
            throw err;
          }
          if (returned instanceof Promise) return settle(span, returned);
          span.end();
          return returned;
        });
      };
    },
  });
}
