import type { CheckoutFailure } from '../domain/checkout';
import type { Money } from '../domain/money';
import type { cartActivities } from './carts';
import type { inventoryActivities } from './inventory';
import type { orderActivities } from './orders';

export interface SettleRefusedCheckoutRequest {
  checkoutId: string;
  cartId: string;
  /** The order's reason, should a lost workflow task have created one. */
  reason: string;
  /** The failure the customer is answered with (recorded: a replayed request answers it). */
  failure: CheckoutFailure;
  total?: Money;
}

/**
 * A checkout refused before its authorize step was registered (most often a hold refused for
 * stock in a flash sale): its compensation as one activity, run local by the checkout so the
 * refused customer's answer comes in the workflow task that refused it instead of after four
 * activity round trips. The steps keep the order of the saga's (docs/architecture.md,
 * "Compensation order while the gateway is down"): the outcome is made final first — an order a
 * lost workflow task may have created is failed (the store is asked), and the checkout row is
 * marked failed — then the stock goes back (a no-op when no hold stands), then the cart is
 * unlocked. Every step is idempotent, so a retry, or a re-run after a lost workflow task, repeats
 * them harmlessly. The payment side is not here: the payment context's fence
 * (fenceUnseenAuthorization) is its own activity, so an outage of one context never holds up the other.
 */
export function checkoutRefusalActivities(steps: {
  failOrder: ReturnType<typeof orderActivities>['failOrder'];
  recordCheckoutFailure: ReturnType<typeof orderActivities>['recordCheckoutFailure'];
  releaseStock: ReturnType<typeof inventoryActivities>['releaseStock'];
  unlockCart: ReturnType<typeof cartActivities>['unlockCart'];
}) {
  return {
    async settleRefusedCheckout(req: SettleRefusedCheckoutRequest): Promise<void> {
      // The row first: once it is failed, a stalled worker's late createOrder (a lost task's)
      // cannot place it any more (createOrder places a pending checkout only); an order such a
      // createOrder committed before that is seen by failOrder, which runs after.
      await steps.recordCheckoutFailure({ checkoutId: req.checkoutId, failure: req.failure, total: req.total });
      await steps.failOrder({ checkoutId: req.checkoutId, reason: req.reason });
      await steps.releaseStock(req.checkoutId);
      await steps.unlockCart({ cartId: req.cartId, checkoutId: req.checkoutId });
    },
  };
}
