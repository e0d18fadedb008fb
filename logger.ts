import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The trace of the span this line is written in (an HTTP request, an activity), so a log
 * line leads to its trace and back. Without tracing there is no active span: nothing added.
 */
function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  return isSpanContextValid(ctx) ? { traceId: ctx.traceId, spanId: ctx.spanId } : {};
}

/** Structured logs; secrets, tokens and payment tokens never reach the output. */
export function createLogger(level: string, name = 'orderly', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    mixin: traceFields,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.paymentToken',
        'paymentToken',
        '*.password',
        '*.pass',
        '*.apiKey',
        '*.email',
        'email',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
