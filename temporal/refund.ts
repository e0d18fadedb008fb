import type { Client } from '@temporalio/client';
import type { RefundInput } from '../workflows/messages';
import { CustomerEmailKey, OrderIdKey, RefundStatusKey } from './search-attributes';
import { refundWorkflowId } from './workflow-ids';
import { startWorkflow } from './workflows';

/**
 * Starts the refund's workflow (one per refund id; a running one is joined). Rejects with
 * WorkflowExecutionAlreadyStartedError when that refund's workflow already finished.
 */
export function startRefund(client: Client, taskQueue: string, input: RefundInput) {
  return startWorkflow(client, 'refundWorkflow', {
    workflowId: refundWorkflowId(input.refundId),
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: OrderIdKey, value: input.orderId },
      { key: CustomerEmailKey, value: input.email },
      { key: RefundStatusKey, value: 'pending' },
    ],
  });
}
