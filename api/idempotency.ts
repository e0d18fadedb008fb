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
    // Node hands header bytes over as latin1, so a non-ASCII key fails here, as does a
    // repeated header (joined with ", "); control characters never get this far (the HTTP
    // parser refuses them, see request-guards.ts).
    const message = 'Idempotency-Key must be 1–255 printable ASCII characters, without spaces';
    throw new AppError('invalid_request', message, [{ field: 'Idempotency-Key', message }]);
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
