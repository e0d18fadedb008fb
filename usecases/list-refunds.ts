import type { Refund } from '../db/schema/payment';
import { loadOrders } from '../db/stores/order-views';
import { listRefunds } from '../db/stores/refunds';
import { mayAccess } from '../domain/ownership';
import type { RefundOutcome } from '../workflows/messages';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

/** A refund as support and the order's holder see it (shared/API.md). */
export function refundView(r: Refund, status?: RefundOutcome['status'] | 'pending') {
  return {
    refundId: r.id,
    orderId: r.orderId,
    status: status ?? r.status,
    amount: { amount: r.amount, currency: r.currency },
    reason: r.reason,
    ...(r.lines ? { lines: r.lines } : {}),
    restock: r.restock,
    createdAt: r.createdAt.toISOString(),
  };
}

export type RefundView = ReturnType<typeof refundView>;

/** GET /orders/:orderId/refunds: every refund of an order, oldest first. */
export async function listOrderRefunds(
  { dbs }: Pick<UseCaseDeps, 'dbs'>,
  orderId: string,
  viewer?: string | { support: true },
): Promise<{ kind: 'found'; items: RefundView[] } | Rejected> {
  const [order] = await loadOrders(dbs.order, [orderId]);
  // support reads every order's refunds (it makes them); others only a guest's or their own
  const allowed = typeof viewer === 'object' || mayAccess(order?.customerId, viewer);
  if (!order || !allowed) return rejected('not_found', 'no such order');
  return { kind: 'found', items: (await listRefunds(dbs.payment, orderId)).map((r) => refundView(r)) };
}
