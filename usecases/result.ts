import type { ErrorCode } from '../domain/failures';

/**
 * A business refusal, as a value: the use case never throws for an outcome the caller must
 * answer (a missing cart, a reused key, a refund beyond what was sold). The HTTP edge maps
 * `code` to its status (api/errors.ts); any other caller reads it as it is.
 */
export interface Rejected {
  kind: 'rejected';
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export function rejected(code: ErrorCode, message: string, details?: unknown): Rejected {
  return details === undefined ? { kind: 'rejected', code, message } : { kind: 'rejected', code, message, details };
}
