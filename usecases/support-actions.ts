import { getCheckout } from '../db/stores/checkouts';
import { addSupportEvent, getOrderCheckoutId } from '../db/stores/orders';
import type { SupportActor } from '../domain/support';
import { cancelSignal, checkoutStatusQuery, retrySignal } from '../workflows/messages';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

type Deps = Pick<UseCaseDeps, 'dbs' | 'temporal'>;

/** Who acts and why: the signal carries it to the workflow (its memo), the order's history records it. */
export interface SupportRequest {
  actor: SupportActor;
  reason?: string;
}

/** The actor as recorded: who, never what they may do (roles) or their credential. */
const named = ({ id, name }: SupportActor): SupportActor => ({ id, name });

/** The checkout workflow of an order, if it is parked waiting for support. */
async function parkedCheckout({ dbs, temporal }: Deps, orderId: string) {
  const checkoutId = await getOrderCheckoutId(dbs.order, orderId);
  if (!checkoutId) return rejected('not_found', 'no such order');
  const checkout = await getCheckout(dbs.order, checkoutId);
  if (!checkout?.runId) return rejected('not_found', 'no checkout for this order');
  const handle = temporal.workflow.getHandle(checkout.workflowId, checkout.runId);
  const status = await handle.query(checkoutStatusQuery).catch(() => undefined);
  if (status?.step !== 'needs_attention') {
    return rejected('order_not_parked', 'this order is not waiting for support (use refunds for a paid order)', {
      step: status?.step ?? 'closed',
    });
  }
  return { kind: 'parked' as const, handle, status };
}

/** POST /admin/orders/:orderId/retry: a parked order's checkout runs its failed step again. */
export async function retryParkedOrder(
  deps: Deps,
  orderId: string,
  by: SupportRequest,
): Promise<{ kind: 'retrying'; parkedBecause?: string } | Rejected> {
  const parked = await parkedCheckout(deps, orderId);
  if (parked.kind === 'rejected') return parked;
  // recorded before the signal: the history reads in order (the request, then what the workflow did)
  await addSupportEvent(deps.dbs.order, { orderId, type: 'support_retry', reason: by.reason, actor: by.actor });
  await parked.handle.signal(retrySignal, { actor: named(by.actor), ...(by.reason ? { reason: by.reason } : {}) });
  return { kind: 'retrying', parkedBecause: parked.status.lastError };
}

/** POST /admin/orders/:orderId/cancel: a parked order's checkout compensates and returns the money. */
export async function cancelParkedOrder(deps: Deps, orderId: string, by: SupportRequest & { reason: string }): Promise<{ kind: 'cancelling' } | Rejected> {
  const parked = await parkedCheckout(deps, orderId);
  if (parked.kind === 'rejected') return parked;
  await addSupportEvent(deps.dbs.order, { orderId, type: 'support_cancel', reason: by.reason, actor: by.actor });
  await parked.handle.signal(cancelSignal, { reason: by.reason, actor: named(by.actor) });
  return { kind: 'cancelling' };
}
