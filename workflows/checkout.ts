import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';
import { CheckoutStatusKey, OrderIdKey } from '../temporal/search-attributes';
import { toCheckoutFailure } from './failures';
import {
  checkoutStatusQuery,
  placeOrderUpdate,
  type CheckoutInput,
  type CheckoutOutcome,
  type CheckoutStatusView,
  type CheckoutStep,
  type Money,
  type PricedCart,
} from './messages';
import { CancelledBySupport, Parking } from './parking';
import { Saga } from './saga';

/** Store calls: short, retried with backoff, business errors are non-retryable failures. */
const STORE_CALLS = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 10 },
} as const;
/** Gateway calls: a timeout may hide a success, so every call carries an idempotency key. */
const GATEWAY_CALLS = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 6 },
} as const;
const stores = proxyActivities<OrderlyActivities>(STORE_CALLS);
const gateway = proxyActivities<OrderlyActivities>(GATEWAY_CALLS);
/**
 * The steps before the storefront's answer as local activities: they run inside the workflow
 * task, so the five of them cost one server round trip instead of five (docs/performance.md).
 * Same timeouts and retries; a worker that dies mid-step leaves the workflow task to time out
 * and another worker re-runs the step, which every step tolerates (idempotency keys, claims).
 */
const localStores = proxyLocalActivities<OrderlyActivities>(STORE_CALLS);
const localGateway = proxyLocalActivities<OrderlyActivities>(GATEWAY_CALLS);
/** Compensations must eventually happen: retried without limit. */
const undo = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});
/** After the order is paid, side effects that must not undo it. */
const followUp = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
});

function sameMoney(a: Money, b: Money): boolean {
  return a.amount === b.amount && a.currency === b.currency;
}

/** Lines of the same SKU are summed before holding stock. */
function stockLines(cart: PricedCart): { sku: string; quantity: number }[] {
  const bySku = new Map<string, number>();
  for (const line of cart.lines) bySku.set(line.sku, (bySku.get(line.sku) ?? 0) + line.quantity);
  return [...bySku].map(([sku, quantity]) => ({ sku, quantity }));
}

export async function checkoutWorkflow(input: CheckoutInput): Promise<CheckoutOutcome> {
  const { workflowId, runId } = workflowInfo();
  const { checkoutId } = input;
  // Keys derive from the workflow id and the checkout, never from a random per attempt.
  const key = (step: string) => `${workflowId}/${checkoutId}/${step}`;
  const saga = new Saga();
  const view: CheckoutStatusView = { checkoutId, cartId: input.cartId, step: 'claiming', compensations: [] };
  let outcome: CheckoutOutcome | undefined;
  let total: Money | undefined;

  const enter = (step: CheckoutStep) => {
    view.step = step;
    view.compensations = saga.names;
  };

  setHandler(checkoutStatusQuery, () => view);
  setHandler(
    placeOrderUpdate,
    async () => {
      await condition(() => outcome !== undefined);
      return outcome as CheckoutOutcome;
    },
    {
      validator: (req) => {
        if (req.checkoutId !== checkoutId) {
          throw ApplicationFailure.create({
            type: 'checkout_in_progress',
            message: 'another checkout of this cart is running',
            details: [{ checkoutId }],
            nonRetryable: true,
          });
        }
      },
    },
  );

  const finish = async (result: CheckoutOutcome) => {
    outcome ??= result;
    view.outcome = result;
    await condition(allHandlersFinished);
    return result;
  };

  // Histories recorded before local activities replay on the old path (test/histories).
  const local = patched('checkout-local-pre-answer-steps');
  const before = local ? localStores : stores;
  const beforeGateway = local ? localGateway : gateway;

  const previous = await before.claimCheckout(checkoutId, runId);
  if (previous) return finish(previous);

  let orderId: string | undefined;
  const parking = new Parking({
    view,
    onPark: (reason) => stores.markOrderNeedsAttention({ checkoutId, reason }),
    onResume: () => stores.resumeOrder({ checkoutId }),
  });
  try {
    enter('pricing');
    const cart = await before.priceCart(input.cartId);
    total = cart.total;
    if (input.expectedTotal && !sameMoney(input.expectedTotal, cart.total)) {
      throw ApplicationFailure.nonRetryable('the cart total changed since it was shown', 'price_changed', {
        lines: cart.lines,
        total: cart.total,
      });
    }

    enter('holding_stock');
    saga.add('releaseStock', () => undo.releaseStock(checkoutId));
    await before.holdStock({ holdId: checkoutId, lines: stockLines(cart) });

    enter('authorizing_payment');
    const authorization = { checkoutId, idempotencyKey: key('authorize'), amount: cart.total, paymentToken: input.paymentToken };
    saga.add('voidPayment', () => undo.voidPayment({ checkoutId, idempotencyKey: key('void'), authorization }));
    await beforeGateway.authorizePayment(authorization);

    enter('creating_order');
    saga.add('failOrder', () =>
      parking.cancelReason !== undefined
        ? undo.cancelOrder({ checkoutId, reason: parking.cancelReason })
        : undo.failOrder({ checkoutId, reason: 'checkout compensated' }),
    );
    orderId = (
      await before.createOrder({
        checkoutId,
        cartId: input.cartId,
        email: input.email,
        customerId: input.customerId,
        shippingAddress: input.shippingAddress,
        cart,
      })
    ).orderId;
    view.orderId = orderId;
    upsertSearchAttributes([
      { key: OrderIdKey, value: orderId },
      { key: CheckoutStatusKey, value: 'placed' },
    ]);
    // The storefront gets its answer here; capture, stock commit and email continue.
    outcome = { status: 'placed', checkoutId, orderId, total: cart.total };

    enter('capturing_payment');
    saga.add('refundPayment', () => undo.refundPayment({ checkoutId, idempotencyKey: key('refund'), reason: 'checkout compensated' }));
    const placedOrderId = orderId;
    // A capture refused after authorization is for a human to decide, not to compensate.
    await parking.run(() => gateway.capturePayment({ checkoutId, orderId: placedOrderId, idempotencyKey: key('capture'), amount: cart.total }));

    enter('committing_stock');
    await stores.commitStock(checkoutId);
    await stores.markOrderPaid(orderId);
    saga.clear();
    upsertSearchAttributes([{ key: CheckoutStatusKey, value: 'paid' }]);

    enter('clearing_cart');
    await followUp.clearCart(input.cartId).catch((err: unknown) => log.warn('cart not cleared', { error: String(err) }));
    enter('sending_confirmation');
    await followUp
      .sendOrderConfirmation({ orderId, checkoutId, email: input.email, cart })
      .catch((err: unknown) => log.warn('confirmation not sent', { error: String(err) }));

    enter('completed');
    return await finish(outcome);
  } catch (err) {
    const failure =
      err instanceof CancelledBySupport ? { code: 'checkout_cancelled', message: `cancelled by support: ${err.reason}` } : toCheckoutFailure(err);
    enter('compensating');
    const result: CheckoutOutcome = { status: 'failed', checkoutId, total, failure };
    await CancellationScope.nonCancellable(async () => {
      await saga.compensate();
      await undo.recordCheckoutFailure({ checkoutId, failure, total });
    });
    upsertSearchAttributes([{ key: CheckoutStatusKey, value: err instanceof CancelledBySupport ? 'cancelled' : 'failed' }]);
    enter('failed');
    view.compensations = [];
    // A cancelled workflow still answers its pending updates before it closes.
    return await CancellationScope.nonCancellable(() => finish(result));
  }
}
