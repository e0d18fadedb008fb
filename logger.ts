import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured logs; secrets, tokens and payment tokens never reach the output. */
export function createLogger(level: string, name = 'orderly'): Logger {
  return pino({
    name,
    level,
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
  });
}
