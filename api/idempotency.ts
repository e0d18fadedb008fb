import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { AppError } from './errors';
import { idempotencyKeySchema } from './schemas/checkouts';

/** The Idempotency-Key header of a POST that needs one, or a 400. */
export function requireIdempotencyKey(req: Request): string {
  const key = req.get('Idempotency-Key');
  if (key === undefined || key === '') {
    throw new AppError('idempotency_key_required', 'this request needs an Idempotency-Key header');
  }
  if (!idempotencyKeySchema.safeParse(key).success) {
    throw new AppError('invalid_request', 'Idempotency-Key must be 1–255 printable ASCII characters');
  }
  return key;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** A hash of the parsed body that ignores key order, to tell a retry from a reused key. */
export function requestHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(canonical(body))).digest('hex');
}
