import { getCheckout } from '../db/stores/checkouts';
import { mayAccess } from '../domain/ownership';
import { checkoutStatusQuery, type CheckoutStatusView } from '../workflows/messages';
import { viewOfRow, type CheckoutView } from './checkout-view';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

export type CheckoutStatusResult = { kind: 'found'; view: CheckoutView } | Rejected;

/**
 * Where a checkout stands: its row, and for one still running the workflow's current step
 * (a query; a workflow that cannot answer leaves the step out).
 */
export async function checkoutStatus({ dbs, temporal }: Pick<UseCaseDeps, 'dbs' | 'temporal'>, checkoutId: string, viewer?: string): Promise<CheckoutStatusResult> {
  const checkout = await getCheckout(dbs.order, checkoutId);
  if (!checkout || !mayAccess(checkout.customerId, viewer)) return rejected('not_found', 'no such checkout');
  const view = viewOfRow(checkout);
  if (checkout.status === 'pending' && checkout.runId) {
    const status = await temporal.workflow
      .getHandle(checkout.workflowId, checkout.runId)
      .query(checkoutStatusQuery)
      .catch((): CheckoutStatusView | undefined => undefined);
    if (status) {
      view.step = status.step;
      if (status.nextAction) {
        view.nextAction = status.nextAction;
        view.confirmUrl = `/checkouts/${checkoutId}/confirm`;
      }
    }
  }
  return { kind: 'found', view };
}
