import { WorkflowUpdateStage } from '@temporalio/client';
import { CartStore } from '../../db/stores/cart';
import { openCheckout } from '../../db/stores/checkouts';
import type { CheckoutAnswer } from '../../domain/checkout';
import { checkoutStartOperation } from '../../temporal/checkout';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { placeOrderUpdate } from '../../workflows/messages';
import type { Stack } from './stack';

/**
 * A checkout as POST /checkouts opens and starts it — row opened, cart locked, update-with-start
 * of the cart's workflow — without the API's admission hold: for tests of the run's own stock
 * judgement (its hold refused, compensated in the workflow), which the admission hold now
 * settles before any run when it can. `answer` is the update's result.
 */
export async function startCheckoutRun(
  stack: Stack,
  cartId: string,
  request: { key: string; email: string; paymentToken?: string; waitMs?: number },
): Promise<{ checkoutId: string; answer: Promise<CheckoutAnswer> }> {
  const workflowId = checkoutWorkflowId(cartId);
  const { checkout } = await openCheckout(stack.dbs.order, { cartId, idempotencyKey: request.key, requestHash: `direct-${request.key}`, email: request.email, workflowId });
  const carts = new CartStore(stack.redis, stack.dbs.cart, stack.config.cart);
  const holder = await carts.lock(cartId, checkout.checkoutId, Date.now() + stack.config.checkout.holdTtlSeconds * 1000);
  if (holder && holder !== checkout.checkoutId) throw new Error(`cart ${cartId} is locked by checkout ${holder}`);
  const input = { checkoutId: checkout.checkoutId, cartId, email: request.email, paymentToken: request.paymentToken ?? 'tok_visa', answerBy: Date.now() + (request.waitMs ?? stack.config.checkout.waitMs) };
  const start = checkoutStartOperation(stack.config.temporal.taskQueue, workflowId, input, 'test');
  const answer = stack.temporal.workflow
    .startUpdateWithStart(placeOrderUpdate, { args: [{ checkoutId: checkout.checkoutId }], waitForStage: WorkflowUpdateStage.ACCEPTED, startWorkflowOperation: start })
    .then((handle) => handle.result());
  return { checkoutId: checkout.checkoutId, answer };
}
