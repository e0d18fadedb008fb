import type { CircuitBreakers } from '../db/stores/circuit-breakers';
import { rejected, type Rejected } from './result';

/**
 * A checkout while the payment gateway's breaker is open is refused before anything starts:
 * no workflow, no stock held (`payment_unavailable`, 503 with Retry-After). Nothing was
 * recorded, so the same Idempotency-Key may be sent again. When Redis cannot tell, the
 * checkout goes ahead (the workflow's authorization is guarded too).
 */
export async function paymentUnavailable(breakers: CircuitBreakers | undefined): Promise<Rejected | undefined> {
  const refusal = await breakers?.paymentGateway.refusal().catch(() => undefined);
  if (!refusal) return undefined;
  return rejected('payment_unavailable', 'payments are unavailable right now; nothing was charged, try again shortly', {
    retryAfterSeconds: Math.max(1, Math.ceil(refusal.retryAfterMs / 1000)),
  });
}
