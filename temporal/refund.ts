import type { Client } from '@temporalio/client';
import { formatMoney } from '../domain/money';
import type { SupportActionNote } from '../domain/support';
import type { RefundInput } from '../workflows/messages';
import { CustomerEmailHashKey, OrderIdKey, RefundStatusKey } from './search-attributes';
import { refundWorkflowId } from './workflow-ids';
import { startWorkflow } from './workflows';

/** The Web UI's summary and details of a refund's workflow. */
export function refundMetadata(input: RefundInput): { staticSummary: string; staticDetails: string } {
  const lines = (input.lines ?? []).map((l) => `${l.sku} × ${l.quantity}${l.restock > 0 ? ` (${l.restock} back to stock)` : ''}`);
  return {
    staticSummary: `Refund of ${formatMoney(input.amount.amount, input.amount.currency)} on order ${input.orderId}`,
    staticDetails: [
      `**Refund:** ${input.refundId}`,
      `**Order:** ${input.orderId}`,
      lines.length > 0 ? `**Lines:** ${lines.join(', ')}` : '**Lines:** none (an amount only)',
      'Where it stands: the current details below and the RefundStatus search attribute.',
    ].join('\n'),
  };
}

/** Who asked, when, and which refund (its refund_requested order event has the reason): never the free text. */
function refundNote(input: RefundInput, by: NonNullable<RefundInput['requestedBy']>): SupportActionNote {
  return { action: 'refund', actor: { id: by.actor.id, name: by.actor.name }, refundId: input.refundId, at: new Date().toISOString() };
}

/**
 * Starts the refund's workflow (one per refund id; a running one is joined). Rejects with
 * WorkflowExecutionAlreadyStartedError when that refund's workflow already finished.
 * `emailHash` is customerEmailHash(input.email) (temporal/codec.ts), never the email.
 */
export function startRefund(client: Client, taskQueue: string, input: RefundInput, emailHash: string) {
  return startWorkflow(client, 'refundWorkflow', {
    workflowId: refundWorkflowId(input.refundId),
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    ...refundMetadata(input),
    // who asked, for the Web UI (a retry or cancel of a parked refund replaces it, workflows/parking.ts)
    ...(input.requestedBy ? { memo: { lastSupportAction: refundNote(input, input.requestedBy) } } : {}),
    typedSearchAttributes: [
      { key: OrderIdKey, value: input.orderId },
      { key: CustomerEmailHashKey, value: emailHash },
      { key: RefundStatusKey, value: 'pending' },
    ],
  });
}
