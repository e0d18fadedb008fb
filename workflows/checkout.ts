import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { MoneyReturned } from '../activities/payment';
import { CheckoutStatusKey, OrderIdKey } from '../temporal/search-attributes';
import { toCheckoutFailure } from './failures';
import { stockLines } from '../domain/cart';
import type { CheckoutOutcome } from '../domain/checkout';
import { formatMoney, type Money } from '../domain/money';
import { checkoutStatusQuery, placeOrderUpdate, type CheckoutInput, type CheckoutStatusView } from './messages';
import { canMoveCheckout, type CheckoutState, type CheckoutStep } from '../domain/checkout-lifecycle';
import { afterAnswer, followUp, gateway, localGateway, localStores, mail, stores, undo } from './checkout-calls';
import { CancelledBySupport, Parking } from './parking';
import { Saga } from './saga';

const MONEY_RANK: Record<MoneyReturned['action'], number> = { none: 0, voided: 1, refunded: 2 };


/** The failure as the customer reads it: what happened to their money, as the gateway confirmed. */
function withMoney(message: string, money: MoneyReturned): string {
  const sum = formatMoney(money.amount, money.currency);
  const base = message.replace(/; nothing was charged$/, '');
  if (money.action === 'refunded') return `${base}; ${sum} was refunded to your payment method`;
  if (money.action === 'voided') return `${base}; the authorization of ${sum} was released and nothing was charged`;
  return `${base}; nothing was charged`;
}

function sameMoney(a: Money, b: Money): boolean {
  return a.amount === b.amount && a.currency === b.currency;
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
  let money: MoneyReturned = { action: 'none', amount: 0, currency: input.expectedTotal?.currency ?? 'XXX' };

  const enter = (step: CheckoutStep) => {
    view.step = step;
    view.compensations = saga.names;
  };
  // The checkout's state (domain/checkout-lifecycle.ts), shown to support as CheckoutStatus.
  let state: CheckoutState = 'pending';
  const moveTo = (to: CheckoutState, alongside: { key: typeof OrderIdKey; value: string }[] = []) => {
    if (!canMoveCheckout(state, to)) log.error('checkout moved outside its lifecycle', { from: state, to });
    state = to;
    upsertSearchAttributes([...alongside, { key: CheckoutStatusKey, value: to }]);
  };
  const returned = (result: MoneyReturned | undefined) => {
    if (result && MONEY_RANK[result.action] >= MONEY_RANK[money.action]) money = result;
  };

  setHandler(checkoutStatusQuery, () => view);
  setHandler(
    placeOrderUpdate,
    async () => {
      // a cancel request must not fail the storefront's update: it gets the outcome the cancel led to
      await CancellationScope.nonCancellable(() => condition(() => outcome !== undefined));
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
  const preAnswer = local ? localStores : stores;
  const preAnswerGateway = local ? localGateway : gateway;
  // Frozen inputs, the point of no return and the failure notice (issue 13).
  const frozenInputs = patched('checkout-frozen-inputs');
  // A cancel request is honoured before the order is placed and recorded-and-ignored after.
  CancellationScope.current().cancelRequested.catch(() => {
    view.cancelRequested = true;
  });
  /**
   * A step before the answer runs to its end even when a cancel arrives meanwhile (cut short,
   * its effect — an order, an authorization — could land after its compensation ran); the
   * cancel is honoured as soon as it returns.
   */
  const beforeAnswer = async <T>(run: () => Promise<T>): Promise<T> => {
    const result = await CancellationScope.nonCancellable(run);
    if (view.cancelRequested) throw new CancelledFailure('the checkout was cancelled');
    return result;
  };

  let orderId: string | undefined;
  // Parking happens after the answer: its store writes retry like every post-answer step.
  const parking = new Parking({
    view,
    status: { key: CheckoutStatusKey, parked: 'needs_attention', resumed: 'placed' },
    moveTo: (to) => moveTo(to as CheckoutState),
    onPark: (reason) => afterAnswer.markOrderNeedsAttention({ checkoutId, reason }),
    onResume: () => afterAnswer.resumeOrder({ checkoutId }),
  });
  try {
    const previous = await beforeAnswer(() => preAnswer.claimCheckout(checkoutId, runId));
    if (previous) return await finish(previous);

    enter('pricing');
    const cart = await beforeAnswer(() =>
      frozenInputs ? preAnswer.freezeCart({ checkoutId, cartId: input.cartId }) : preAnswer.priceCart(input.cartId),
    );
    total = cart.total;
    if (input.expectedTotal && !sameMoney(input.expectedTotal, cart.total)) {
      throw ApplicationFailure.nonRetryable('the cart total changed since it was shown', 'price_changed', {
        lines: cart.lines,
        total: cart.total,
      });
    }

    enter('holding_stock');
    saga.add('releaseStock', () => undo.releaseStock(checkoutId));
    await beforeAnswer(() => preAnswer.holdStock({ holdId: checkoutId, lines: stockLines(cart.lines) }));

    enter('authorizing_payment');
    const authorization = { checkoutId, idempotencyKey: key('authorize'), amount: cart.total, paymentToken: input.paymentToken };
    saga.add('voidPayment', async () => returned(await undo.voidPayment({ checkoutId, idempotencyKey: key('void'), authorization })));
    await beforeAnswer(() => preAnswerGateway.authorizePayment(authorization));

    enter('creating_order');
    // the order (if one was made) ends cancelled when support decided, failed otherwise
    saga.add('closeOrder', () =>
      parking.cancelReason !== undefined
        ? undo.cancelOrder({ checkoutId, reason: parking.cancelReason })
        : undo.failOrder({ checkoutId, reason: 'checkout compensated' }),
    );
    const placed = await beforeAnswer(() =>
      preAnswer.createOrder({
        checkoutId,
        cartId: input.cartId,
        email: input.email,
        customerId: input.customerId,
        shippingAddress: input.shippingAddress,
        cart,
      }),
    );
    orderId = placed.orderId;
    view.orderId = orderId;
    moveTo('placed', [{ key: OrderIdKey, value: orderId }]);
    // The storefront gets its answer here. From now on the order stands: a cancel request is
    // recorded and ignored, an outage is retried, and only support (a parked step's cancel)
    // can undo it.
    outcome = { status: 'placed', checkoutId, orderId, total: cart.total };
    const done = outcome;
    const paidOrderId = orderId;
    return await CancellationScope.nonCancellable(async () => {
      enter('capturing_payment');
      saga.add('refundPayment', async () =>
        returned(await undo.refundPayment({ checkoutId, idempotencyKey: key('refund'), reason: 'checkout compensated' })),
      );
      // A capture refused after authorization is for a human to decide, not to compensate.
      // Each support retry is a new decision with a key of its own (a gateway replays a stored refusal for the same key).
      await parking.run(() =>
        gateway.capturePayment({
          checkoutId,
          orderId: paidOrderId,
          idempotencyKey: key(parking.retries === 0 ? 'capture' : `capture/retry-${parking.retries}`),
          amount: cart.total,
        }),
      );

      enter('committing_stock');
      await parking.run(() => afterAnswer.commitStock(checkoutId));
      await parking.run(() => afterAnswer.markOrderPaid(paidOrderId));
      saga.clear();
      moveTo('paid');

      enter('clearing_cart');
      await followUp.clearCart(input.cartId).catch((err: unknown) => log.warn('cart not cleared', { error: String(err) }));
      enter('sending_confirmation');
      await mail
        .sendOrderConfirmation({ orderId: paidOrderId, checkoutId, email: input.email, cart })
        .catch((err: unknown) => log.warn('confirmation not sent', { error: String(err) }));
      if (view.cancelRequested && frozenInputs) {
        await stores.noteOrderEvent({ orderId: paidOrderId, type: 'cancel_request_ignored', reason: 'a cancel request arrived after the order was placed and paid for' });
      }
      enter('completed');
      return finish(done);
    });
  } catch (err) {
    const cancelled = err instanceof CancelledBySupport;
    const failure = cancelled
      ? { code: 'checkout_cancelled', message: `cancelled by support: ${err.reason}` }
      : view.cancelRequested
        ? { code: 'checkout_cancelled', message: 'the checkout was cancelled' }
        : toCheckoutFailure(err);
    enter('compensating');
    return await CancellationScope.nonCancellable(async () => {
      await saga.compensate();
      const told = { ...failure, message: withMoney(failure.message, money) };
      await undo.recordCheckoutFailure({ checkoutId, failure: told, total });
      moveTo(cancelled ? 'cancelled' : 'failed');
      if (frozenInputs) {
        await undo.unlockCart({ cartId: input.cartId, checkoutId });
        // The customer already had an answer (the 201, or a 202 they are polling): tell them.
        const answered = orderId !== undefined || (input.answerBy !== undefined && Date.now() >= input.answerBy);
        if (answered) {
          await mail
            .sendCheckoutFailureNotice({ checkoutId, orderId, email: input.email, failure: told, money })
            .catch((e: unknown) => log.warn('failure notice not sent', { error: String(e) }));
        }
      }
      enter('failed');
      view.compensations = [];
      // A cancelled workflow still answers its pending updates before it closes.
      return finish({ status: 'failed', checkoutId, total, failure: told });
    });
  }
}
