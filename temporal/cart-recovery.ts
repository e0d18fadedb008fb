import type { Client } from '@temporalio/client';
import { cartChangedSignal, type CartRecoveryInput } from '../workflows/messages';
import { cartRecoveryWorkflowId } from './workflow-ids';
import { signalWithStartWorkflow } from './workflows';

/** Starts (or tells) the cart's recovery workflow that the cart is at `version`. */
export async function signalCartRecovery(
  client: Client,
  taskQueue: string,
  recovery: { offsetsMinutes: number[]; discountCode?: string },
  cart: { id: string; version: number; updatedAt: number },
): Promise<void> {
  // only what the run needs (the caller may pass the whole recovery config: its secret stays out of the history)
  const input: CartRecoveryInput = { cartId: cart.id, version: cart.version, updatedAt: cart.updatedAt, offsetsMinutes: recovery.offsetsMinutes, ...(recovery.discountCode ? { discountCode: recovery.discountCode } : {}) };
  await signalWithStartWorkflow(client, 'cartRecoveryWorkflow', {
    workflowId: cartRecoveryWorkflowId(cart.id),
    taskQueue,
    args: [input],
    staticSummary: `Cart reminders for cart ${cart.id}`,
    staticDetails: [
      `**Cart:** ${cart.id}`,
      `**Reminders:** ${recovery.offsetsMinutes.map((m) => `${m} min`).join(', ')} after the cart's last change`,
      recovery.discountCode ? '**Last reminder:** offers the discount code' : undefined,
      'A change of the cart restarts the clock; a checkout, an emptied cart or an opt-out ends it.',
    ]
      .filter((l) => l !== undefined)
      .join('\n'),
    signal: cartChangedSignal,
    signalArgs: [{ version: cart.version, updatedAt: cart.updatedAt }],
  });
}

/**
 * The recovery starts cart writes queued after their answers, per client, until they settle: an
 * API that shuts down waits for them (bounded) before it closes its Temporal connection, so the
 * last requests' starts are not cancelled (a lost start leaves the marker `open` until the next
 * write after the restart bound or the sweep).
 */
const queuedStarts = new WeakMap<Client, Set<Promise<void>>>();

/** Keeps `start` (which never rejects) until it settles. */
export function trackRecoveryStart(client: Client, start: Promise<void>): void {
  let queued = queuedStarts.get(client);
  if (!queued) {
    queued = new Set();
    queuedStarts.set(client, queued);
  }
  const set = queued;
  set.add(start);
  void start.finally(() => set.delete(start));
}

/** Waits until the queued recovery starts settle, at most `timeoutMs`; how many were still queued when it stopped waiting. */
export async function settleRecoveryStarts(client: Client, timeoutMs: number): Promise<number> {
  const queued = queuedStarts.get(client);
  if (!queued || queued.size === 0) return 0;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled([...queued]), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  return queued.size;
}
