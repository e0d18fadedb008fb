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
