import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { getCheckout } from '../db/stores/checkouts';
import { addSupportEvent, getOrderCheckoutId } from '../db/stores/orders';
import type { SupportActor } from '../domain/support';
import { cancelSignal, checkoutStatusQuery, retrySignal, supportCancelUpdate, supportRetryUpdate, type SupportActionTaken } from '../workflows/messages';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

type Deps = Pick<UseCaseDeps, 'dbs' | 'temporal'>;

/** Who acts and why: the order's history records both; the workflow learns who (its memo). */
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
  if (status?.step !== 'needs_attention') return notParked(status?.step ?? 'closed');
  return { kind: 'parked' as const, handle, status };
}

const notParked = (step: string) => rejected('order_not_parked', 'this order is not waiting for support (use refunds for a paid order)', { step });

/** The run is on a worker build from before the support updates (PINNED): it has the old signals only. */
const OLD_BUILD = { kind: 'old_build' } as const;

/**
 * Whether an update failed because the workflow has no handler for it: the TypeScript SDK's
 * workflow rejects an update it has no handler for with a non-retryable ApplicationFailure
 * "No registered handler for update: <name>" (type 'Error'), after its validator would have run —
 * so nothing was decided. A build from before 440f472 answers every support update so.
 */
function noUpdateHandler(err: WorkflowUpdateFailedError, update: string): boolean {
  const cause = err.cause;
  return cause instanceof ApplicationFailure && cause.message === `No registered handler for update: ${update}`;
}

/**
 * Sends a support update and answers whether the workflow took the action. Its validator
 * refused it (not waiting any more, or another person's retry/cancel won): a 409, nothing
 * recorded. A run without a handler for the update (an older build): OLD_BUILD, the caller
 * falls back to the old signal. Any other failure (Temporal unreachable) is thrown: nothing
 * recorded either.
 */
async function decide(update: string, send: () => Promise<SupportActionTaken>): Promise<SupportActionTaken | Rejected | typeof OLD_BUILD> {
  try {
    return await send();
  } catch (err) {
    // the run ended between the query and the update (e.g. its authorization expired): not parked
    if (err instanceof WorkflowNotFoundError) return notParked('closed');
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    if (noUpdateHandler(err, update)) return OLD_BUILD;
    const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
    if (cause?.type === 'support_action_conflict') {
      return rejected('support_action_conflict', 'another support action on this order was taken first', { reason: cause.message });
    }
    return notParked('resumed');
  }
}

/**
 * The old signal to a run on an older build, as the API sent it before the updates: the order
 * event is recorded once the server accepted the signal (dated now). The workflow cannot answer
 * whether it took the action: of two concurrent actions both are recorded, the run takes the first.
 */
async function signalOldBuild(send: () => Promise<void>): Promise<Rejected | undefined> {
  try {
    await send();
    return undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return notParked('closed');
    throw err;
  }
}

/**
 * POST /admin/orders/:orderId/retry: a parked order's checkout runs its failed step again.
 * The workflow decides (an update); the order event is recorded only once it took the retry,
 * dated with the workflow's time of the decision (so it reads before what the retry did).
 */
export async function retryParkedOrder(
  deps: Deps,
  orderId: string,
  by: SupportRequest,
): Promise<{ kind: 'retrying'; parkedBecause?: string } | Rejected> {
  const parked = await parkedCheckout(deps, orderId);
  if (parked.kind === 'rejected') return parked;
  const taken = await decide(supportRetryUpdate.name, () => parked.handle.executeUpdate(supportRetryUpdate, { args: [{ actor: named(by.actor) }] }));
  if ('kind' in taken && taken.kind === OLD_BUILD.kind) {
    // the actor only: the reason stays in the order's history, out of the workflow (free text)
    const refused = await signalOldBuild(() => parked.handle.signal(retrySignal, { actor: named(by.actor) }));
    if (refused) return refused;
    await addSupportEvent(deps.dbs.order, { orderId, type: 'support_retry', reason: by.reason, actor: by.actor });
    return { kind: 'retrying', parkedBecause: parked.status.lastError };
  }
  if ('kind' in taken) return taken;
  await addSupportEvent(deps.dbs.order, { orderId, type: 'support_retry', reason: by.reason, actor: by.actor, at: new Date(taken.at) });
  return { kind: 'retrying', parkedBecause: parked.status.lastError };
}

/** POST /admin/orders/:orderId/cancel: a parked order's checkout compensates and returns the money. */
export async function cancelParkedOrder(deps: Deps, orderId: string, by: SupportRequest & { reason: string }): Promise<{ kind: 'cancelling' } | Rejected> {
  const parked = await parkedCheckout(deps, orderId);
  if (parked.kind === 'rejected') return parked;
  const taken = await decide(supportCancelUpdate.name, () => parked.handle.executeUpdate(supportCancelUpdate, { args: [{ actor: named(by.actor), reason: by.reason }] }));
  if ('kind' in taken && taken.kind === OLD_BUILD.kind) {
    // the old signal's contract carries the reason (the run records why it compensates)
    const refused = await signalOldBuild(() => parked.handle.signal(cancelSignal, { reason: by.reason, actor: named(by.actor) }));
    if (refused) return refused;
    await addSupportEvent(deps.dbs.order, { orderId, type: 'support_cancel', reason: by.reason, actor: by.actor });
    return { kind: 'cancelling' };
  }
  if ('kind' in taken) return taken;
  await addSupportEvent(deps.dbs.order, { orderId, type: 'support_cancel', reason: by.reason, actor: by.actor, at: new Date(taken.at) });
  return { kind: 'cancelling' };
}
