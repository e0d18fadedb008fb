import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { PaymentFollowUpInput } from '../domain/payment-events';
import { paymentEventSignal, type PaymentEventNotice } from '../workflows/messages';
import { OrderIdKey } from './search-attributes';
import { paymentFollowUpWorkflowId } from './workflow-ids';
import { startWorkflow } from './workflows';

/**
 * Wakes the cart's checkout workflow (its current run: no run id) with a payment event.
 * The notice carries the checkout id, so a run of a later checkout of the same cart ignores
 * it. 'not_running' when no run of that id is running.
 */
export async function signalPaymentEvent(client: Client, workflowId: string, notice: PaymentEventNotice): Promise<'signalled' | 'not_running'> {
  try {
    await client.workflow.getHandle(workflowId).signal(paymentEventSignal, notice);
    return 'signalled';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'not_running';
    throw err;
  }
}

/**
 * Starts the event's follow-up workflow under an id derived from the event id: a running
 * one is joined and a finished one is not run again, so a duplicate delivery that slipped
 * past the inbox still has one effect. Support finds it by `OrderId`.
 */
export async function startPaymentFollowUp(client: Client, taskQueue: string, input: PaymentFollowUpInput, orderId?: string | null): Promise<'started' | 'already_started'> {
  try {
    await startWorkflow(client, 'paymentFollowUpWorkflow', {
      workflowId: paymentFollowUpWorkflowId(input.eventId),
      taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: orderId ? [{ key: OrderIdKey, value: orderId }] : [],
    });
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already_started';
    throw err;
  }
}
