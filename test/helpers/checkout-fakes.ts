import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { captureThenFinish } from '../../activities/checkout-finish';
import type { OrderlyActivities } from '../../activities';
import type { PricedCart } from '../../domain/cart';

type Fake = (...args: never[]) => Promise<unknown>;
const NOTHING_RETURNED = { action: 'none', amount: 0, currency: 'USD' };

/**
 * The checkout's activities as fakes for time-skipping workflow tests: each records its name
 * in `calls` and answers like the real one would on success; `failAt` names the step that
 * throws `failure` instead.
 */
export function fakeCheckoutActivities(opts: {
  cart: PricedCart;
  calls: string[];
  failAt?: string;
  failure?: ApplicationFailure;
  refunded?: { action: string; amount: number; currency: string };
  /** What the payment store's fence finds (default: no attempt mark, so `abandoned` is written). */
  fence?: 'attempted' | 'abandoned' | 'voided';
}): Partial<Record<keyof OrderlyActivities, Fake>> {
  const { cart, calls, failAt } = opts;
  const failure = opts.failure ?? ApplicationFailure.nonRetryable('injected', 'injected_fault');
  const step =
    <T>(name: string, result: T) =>
    async (): Promise<T> => {
      calls.push(name);
      if (name === failAt) throw failure;
      return result;
    };
  return withFinish({
    claimCheckout: step('claimCheckout', null),
    freezeCart: step('freezeCart', cart),
    holdStock: step('holdStock', { expiresAt: new Date(0).toISOString() }),
    authorizePayment: step('authorizePayment', { paymentRef: 'pay_1' }),
    createOrder: step('createOrder', { orderId: 'ord_1' }),
    capturePayment: step('capturePayment', undefined),
    commitStock: step('commitStock', undefined),
    markOrderPaid: step('markOrderPaid', undefined),
    clearCart: step('clearCart', undefined),
    sendOrderConfirmation: step('sendOrderConfirmation', undefined),
    releaseStock: step('releaseStock', undefined),
    voidPayment: step('voidPayment', NOTHING_RETURNED),
    failOrder: step('failOrder', undefined),
    refundPayment: step('refundPayment', opts.refunded ?? NOTHING_RETURNED),
    unlockCart: step('unlockCart', undefined),
    sendCheckoutFailureNotice: step('sendCheckoutFailureNotice', { sent: true }),
    noteOrderEvent: step('noteOrderEvent', undefined),
    recordCheckoutFailure: step('recordCheckoutFailure', { recorded: true }),
    markOrderNeedsAttention: step('markOrderNeedsAttention', undefined),
    resumeOrder: step('resumeOrder', undefined),
    cancelOrder: step('cancelOrder', undefined),
    fenceUnseenAuthorization: step('fenceUnseenAuthorization', { fate: opts.fence ?? 'abandoned' }),
  });
}

/**
 * The steps after a capture as one activity (activities/checkout-finish.ts), and a refusal's
 * compensation as one (activities/checkout-refusal.ts), made of the fakes
 * of its steps as given (a test that overrides commitStock or markOrderPaid wraps its activities
 * again): each attempt runs the steps in order, and a step that throws fails the attempt, so a
 * retry runs the steps before it again, as the real activity does (they are idempotent).
 */
export function withFinish<T extends Partial<Record<keyof OrderlyActivities, Fake>>>(activities: T): T {
  const steps = ['commitStock', 'markOrderPaid', 'recordPurchaseForRecommendations', 'clearCart', 'sendOrderConfirmation'] as const;
  const finishPaidCheckout = async () => {
    for (const name of steps) {
      const fake = activities[name] as (() => Promise<unknown>) | undefined;
      if (!fake) continue;
      if (name === 'recordPurchaseForRecommendations' || name === 'clearCart') {
        // best effort in the real activity: a failure is logged
        await fake().catch(() => undefined);
      } else {
        await fake();
      }
    }
    return { markedPaid: true, recommendationsCounted: false, cartCleared: true, confirmationSent: true };
  };
  // a refusal's compensation as one activity (activities/checkout-refusal.ts): its steps in order
  const settleRefusedCheckout = async () => {
    for (const name of ['failOrder', 'recordCheckoutFailure', 'releaseStock', 'unlockCart'] as const) {
      const fake = activities[name] as (() => Promise<unknown>) | undefined;
      if (fake) await fake();
    }
  };
  // the capture and the steps after it (checkout-capture-and-finish): the real activity's
  // composition (its capture budget, its mark on a refusal after the capture) over the fakes
  const captureAndFinishPaidCheckout = async () => {
    const context = Context.current();
    const progress = (context.info.heartbeatDetails as { captured?: true } | undefined) ?? {};
    return captureThenFinish({
      attempt: context.info.attempt,
      capturedBefore: progress.captured === true,
      capture: async () => {
        const fake = activities.capturePayment as (() => Promise<unknown>) | undefined;
        if (fake) await fake();
      },
      capturedAnyway: async () => {
        const fake = activities.confirmCapture as (() => Promise<boolean>) | undefined;
        return fake ? fake() : false;
      },
      captured: () => context.heartbeat({ captured: true }),
      finish: finishPaidCheckout,
    });
  };
  return { ...activities, finishPaidCheckout, captureAndFinishPaidCheckout, settleRefusedCheckout };
}
