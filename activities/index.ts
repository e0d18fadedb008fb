import { cartRecoveryActivities } from './cart-recovery';
import { cartActivities } from './carts';
import { checkoutFinishActivities } from './checkout-finish';
import { checkoutRefusalActivities } from './checkout-refusal';
import { withFaultHooks } from './faults';
import type { ActivityDeps } from './deps';
import { inventoryActivities } from './inventory';
import { notificationActivities } from './notifications';
import { orderActivities } from './orders';
import { paymentActivities } from './payment';
import { paymentEventActivities } from './payment-events';
import { withPaymentCircuit } from './payment-circuit';
import { reconcileActivities } from './reconcile';
import { recommendationActivities } from './recommendations';
import { refundActivities } from './refunds';
import { searchActivities } from './search';

export type { ActivityDeps } from './deps';

/** Every activity, built from injected dependencies (see workers/main.ts). */
export function createActivities(deps: ActivityDeps) {
  const inventory = inventoryActivities(deps);
  const notifications = notificationActivities(deps);
  const recommendations = recommendationActivities(deps);
  const carts = cartActivities(deps);
  const orders = orderActivities(deps);
  const payment = paymentActivities(deps);
  const activities = {
    ...carts,
    ...inventory,
    ...payment,
    ...orders,
    ...notifications,
    ...refundActivities(deps),
    ...cartRecoveryActivities(deps),
    ...searchActivities(deps),
    ...reconcileActivities(deps),
    ...paymentEventActivities(deps),
    ...recommendations,
    ...checkoutFinishActivities(deps, {
      commitStock: inventory.commitStock,
      recordPurchaseForRecommendations: recommendations.recordPurchaseForRecommendations,
      sendOrderConfirmation: notifications.sendOrderConfirmation,
      capturePayment: payment.capturePayment,
      confirmCapture: payment.confirmCapture,
    }),
    ...checkoutRefusalActivities({
      failOrder: orders.failOrder,
      recordCheckoutFailure: orders.recordCheckoutFailure,
      releaseStock: inventory.releaseStock,
      unlockCart: carts.unlockCart,
    }),
  };
  return withFaultHooks(withPaymentCircuit(activities, deps.breakers), deps.config.faults);
}

export type OrderlyActivities = ReturnType<typeof createActivities>;
