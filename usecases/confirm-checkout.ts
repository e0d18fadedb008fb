import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { getCheckout } from '../db/stores/checkouts';
import { mayAccess } from '../domain/ownership';
import { confirmPaymentUpdate } from '../workflows/messages';
import { answeredViewOfRow, viewOfOutcome, viewOfRow } from './checkout-view';
import type { UseCaseDeps } from './deps';
import { resultOf, type PlaceCheckoutResult } from './place-checkout';
import { rejected } from './result';
import { waitAtMost } from './wait';

/**
 * POST /checkouts/:id/confirm: the storefront says the customer finished the 3-D Secure step.
 * Nothing the caller says is trusted: the checkout's workflow re-reads the payment from the
 * gateway and answers where the checkout stands — placed (201), declined (402), still waiting
 * (202 with the next action) — within `config.checkout.waitMs`. A checkout that already
 * ended answers from its row, as a replay of POST /checkouts does.
 */
export async function confirmCheckout(
  { dbs, temporal, config, logger }: Pick<UseCaseDeps, 'dbs' | 'temporal' | 'config' | 'logger'>,
  checkoutId: string,
  viewer?: string,
): Promise<PlaceCheckoutResult> {
  const checkout = await getCheckout(dbs.order, checkoutId);
  if (!checkout || !mayAccess(checkout.customerId, viewer)) return rejected('not_found', 'no such checkout');
  if (checkout.status !== 'pending') return resultOf(answeredViewOfRow(checkout), checkout.failure?.details);
  const answer = temporal.workflow.getHandle(checkout.workflowId).executeUpdate(confirmPaymentUpdate, { args: [{ checkoutId }] });
  try {
    const outcome = await waitAtMost(answer, config.checkout.waitMs);
    if (outcome === 'timeout') return resultOf(viewOfRow(checkout));
    return resultOf(viewOfOutcome(outcome), outcome.status === 'failed' ? outcome.failure.details : undefined);
  } catch (err) {
    // the checkout's run has ended (or the cart runs a newer checkout): its row has the answer.
    // Anything else (e.g. too many updates in flight on this run) is not the caller's failure:
    // the checkout carries on, and the row says where it stands (202 while it runs).
    if (!(err instanceof WorkflowUpdateFailedError) && !(err instanceof WorkflowNotFoundError)) {
      logger.warn({ checkoutId, err: String(err) }, 'confirm could not reach the checkout; answering from its row');
    }
    const row = await getCheckout(dbs.order, checkoutId);
    return row ? resultOf(row.status === 'pending' ? viewOfRow(row) : answeredViewOfRow(row), row.failure?.details) : rejected('not_found', 'no such checkout');
  }
}
