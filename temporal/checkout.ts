import type { WithStartWorkflowOperation } from '@temporalio/client';
import type { CheckoutState } from '../domain/checkout-lifecycle';
import { formatMoney } from '../domain/money';
import type { CheckoutInput } from '../workflows/messages';
import { CartIdKey, CheckoutStatusKey, CustomerEmailHashKey } from './search-attributes';
import { withStartOperation, type WorkflowOf } from './workflows';

/** Every checkout starts pending (domain/checkout-lifecycle.ts); the workflow moves it from there. */
const INITIAL_STATE: CheckoutState = 'pending';

/** The Web UI's one-line summary: "Checkout of 3 items, 54.00 EUR" (what is known at start). */
export function checkoutSummary(input: CheckoutInput, cart?: { units: number }): string {
  const what = cart ? `Checkout of ${cart.units} ${cart.units === 1 ? 'item' : 'items'}` : `Checkout of cart ${input.cartId}`;
  return input.expectedTotal ? `${what}, ${formatMoney(input.expectedTotal.amount, input.expectedTotal.currency)}` : what;
}

/** The Web UI's details (markdown): the ids support searches by; where it stands is in the current details. */
export function checkoutStaticDetails(input: CheckoutInput): string {
  return [
    `**Checkout:** ${input.checkoutId}`,
    `**Cart:** ${input.cartId}`,
    input.customerId ? `**Customer:** ${input.customerId}` : undefined,
    'Where it stands: the current details below and the CheckoutStatus search attribute; parked checkouts take a retry or cancel signal (docs/support.md).',
  ]
    .filter((l) => l !== undefined)
    .join('\n');
}

/**
 * The start half of a checkout's update-with-start: the running workflow of this id is
 * reused (a retried request joins it), a finished one may run again for a new request.
 * `cart` (its unit count) makes the Web UI summary read "Checkout of 3 items". `emailHash` is
 * customerEmailHash(input.email) (temporal/codec.ts): the email itself never goes to visibility.
 */
export function checkoutStartOperation(
  taskQueue: string,
  workflowId: string,
  input: CheckoutInput,
  emailHash: string,
  cart?: { units: number },
): WithStartWorkflowOperation<WorkflowOf<'checkoutWorkflow'>> {
  return withStartOperation('checkoutWorkflow', {
    workflowId,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    staticSummary: checkoutSummary(input, cart),
    staticDetails: checkoutStaticDetails(input),
    typedSearchAttributes: [
      { key: CartIdKey, value: input.cartId },
      { key: CustomerEmailHashKey, value: emailHash },
      { key: CheckoutStatusKey, value: INITIAL_STATE },
    ],
  });
}
