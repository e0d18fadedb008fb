import type { WithStartWorkflowOperation } from '@temporalio/client';
import type { CheckoutState } from '../domain/checkout-lifecycle';
import type { CheckoutInput } from '../workflows/messages';
import { CartIdKey, CheckoutStatusKey, CustomerEmailKey } from './search-attributes';
import { withStartOperation, type WorkflowOf } from './workflows';

/** Every checkout starts pending (domain/checkout-lifecycle.ts); the workflow moves it from there. */
const INITIAL_STATE: CheckoutState = 'pending';

/**
 * The start half of a checkout's update-with-start: the running workflow of this id is
 * reused (a retried request joins it), a finished one may run again for a new request.
 */
export function checkoutStartOperation(taskQueue: string, workflowId: string, input: CheckoutInput): WithStartWorkflowOperation<WorkflowOf<'checkoutWorkflow'>> {
  return withStartOperation('checkoutWorkflow', {
    workflowId,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [
      { key: CartIdKey, value: input.cartId },
      { key: CustomerEmailKey, value: input.email },
      { key: CheckoutStatusKey, value: INITIAL_STATE },
    ],
  });
}
