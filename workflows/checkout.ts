import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  log,
  patched,
  ParentClosePolicy,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { AuthorizationFate, AuthorizePaymentResult, MoneyReturned } from '../activities/payment';
import { CheckoutStatusKey, OrderIdKey } from '../temporal/search-attributes';
import { toCheckoutFailure } from './failures';
import { stockLines } from '../domain/cart';
import { capturedBeforeRefusal, type CheckoutAnswer, type CheckoutOutcome } from '../domain/checkout';
import type { Money } from '../domain/money';
import { checkoutStatusQuery, confirmPaymentUpdate, paymentEventSignal, placeOrderUpdate, type CheckoutInput, type CheckoutStatusView } from './messages';
import { canMoveCheckout, type CheckoutState, type CheckoutStep } from '../domain/checkout-lifecycle';
import { afterAnswer, captureFinishing, finishing, followUp, gateway, localGateway, localStores, mail, paymentFence, paymentReads, refusal, stores, undo } from './checkout-calls';
import { CancelledBySupport, Parking } from './parking';
import { Saga } from './saga';
import { showCheckoutProgress } from './ui-details';
import { unseenVoidWorkflowId, voidUnseenAuthorizationWorkflow, withMoney } from './void-unseen-authorization';

const MONEY_RANK: Record<MoneyReturned['action'], number> = { none: 0, voided: 1, refunded: 2 };


/** A day and an hour in ms: how long before an authorization expires a parked capture is cancelled. */
const EXPIRY_MARGIN_MS = 60 * 60_000;
const DEFAULT_PAYMENT_ACTION_TIMEOUT_MS = 15 * 60_000;
const DEFAULT_AUTHORIZATION_VALIDITY_MS = 7 * 24 * 60 * 60_000;

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
    showCheckoutProgress(view);
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

  // While the payment waits for the customer's 3-D Secure step (or the processor): the answer
  // the storefront got (202 with the next action), and the wake-ups (webhooks, confirms).
  let pending: CheckoutAnswer | undefined;
  let toldPending = false;
  let waitingForPayment = false;
  let pokes = 0;
  let checked = 0;
  const seenEvents = new Set<string>();
  const answerNow = (): CheckoutAnswer | undefined => outcome ?? pending;
  const thisCheckout = {
    validator: (req: { checkoutId: string }) => {
      if (req.checkoutId !== checkoutId) {
        throw ApplicationFailure.create({
          type: 'checkout_in_progress',
          message: 'another checkout of this cart is running',
          details: [{ checkoutId }],
          nonRetryable: true,
        });
      }
    },
  };

  setHandler(checkoutStatusQuery, () => view);
  setHandler(
    placeOrderUpdate,
    async () => {
      // a cancel request must not fail the storefront's update: it gets the outcome the cancel led to
      await CancellationScope.nonCancellable(() => condition(() => answerNow() !== undefined));
      return answerNow() as CheckoutAnswer;
    },
    thisCheckout,
  );
  // The storefront's "the customer finished 3-D Secure": a wake-up, the gateway decides.
  setHandler(
    confirmPaymentUpdate,
    async () => {
      await CancellationScope.nonCancellable(async () => {
        await condition(() => outcome !== undefined || waitingForPayment);
        if (outcome !== undefined) return;
        const ticket = ++pokes;
        await condition(() => outcome !== undefined || !waitingForPayment || checked >= ticket);
        // authorized (or failing) meanwhile: answer with the placed or failed order, never a spent pending
        if (outcome === undefined && (!waitingForPayment || pending === undefined)) await condition(() => outcome !== undefined);
      });
      return answerNow() as CheckoutAnswer;
    },
    thisCheckout,
  );
  setHandler(paymentEventSignal, (event) => {
    if (event.checkoutId !== checkoutId || seenEvents.has(event.eventId)) return;
    seenEvents.add(event.eventId);
    view.paymentEvents = seenEvents.size;
    pokes += 1;
  });

  const finish = async (result: CheckoutOutcome) => {
    outcome ??= result;
    view.outcome = result;
    await condition(allHandlersFinished);
    return result;
  };

  // A checkout started on this build records one patch marker (each marker is two history
  // events and a visibility write, docs/performance.md): it implies every patch before it, whose
  // markers it then never records. Earlier histories replay their own markers (test/histories).
  // The capture and the steps after it in one activity: implies checkout-finish-in-one-activity
  // (and so every patch that one implies).
  const captureAndFinish = patched('checkout-capture-and-finish');
  const onePass = captureAndFinish || patched('checkout-finish-in-one-activity');
  // Histories recorded before local activities replay on the old path (test/histories).
  const local = onePass || patched('checkout-local-pre-answer-steps');
  const preAnswer = local ? localStores : stores;
  const preAnswerGateway = local ? localGateway : gateway;
  // Frozen inputs, the point of no return and the failure notice (issue 13).
  const frozenInputs = onePass || patched('checkout-frozen-inputs');
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
  let expired: string | undefined;
  // Parking happens after the answer: its store writes retry like every post-answer step.
  const parking = new Parking({
    view,
    status: { key: CheckoutStatusKey, parked: 'needs_attention', resumed: 'placed' },
    moveTo: (to) => moveTo(to as CheckoutState),
    onPark: (reason) => afterAnswer.markOrderNeedsAttention({ checkoutId, reason }),
    onResume: () => afterAnswer.resumeOrder({ checkoutId }),
  });
  /**
   * The payment waits for the customer's 3-D Secure step or the processor: the storefront gets
   * 202 with the next action, and the checkout re-reads the authorization from the gateway on
   * every wake-up (a webhook, the storefront's confirm) and once more when the wait ends —
   * never trusting what the event or the caller said. Authorized → on to the order; declined,
   * failed 3-D Secure or cancelled at the gateway → payment_declined; no answer in time →
   * payment_action_expired. Either failure compensates (the intent is cancelled).
   */
  const awaitAuthorization = async (first: AuthorizePaymentResult, amount: Money, pokesBefore: number): Promise<void> => {
    enter('awaiting_payment');
    view.waitingFor = first.status === 'requires_action' ? "the customer's 3-D Secure step" : 'the payment processor';
    const nextAction = (r: AuthorizePaymentResult) =>
      r.status === 'requires_action' && r.clientSecret ? { type: 'use_stripe_sdk' as const, clientSecret: r.clientSecret } : undefined;
    view.nextAction = nextAction(first);
    pending = { status: 'pending', checkoutId, total: amount, ...(view.nextAction ? { nextAction: view.nextAction } : {}) };
    toldPending = true;
    waitingForPayment = true;
    // events that arrived while the authorize call ran wake the first wait at once
    let seen = pokesBefore;
    const waitMs = input.paymentActionTimeoutMs ?? DEFAULT_PAYMENT_ACTION_TIMEOUT_MS;
    let deadline = Date.now() + waitMs;
    // the stock stays held for the whole wait (the sweep must not sell it meanwhile)
    await beforeAnswer(() => stores.keepStockHeld({ holdId: checkoutId, untilMs: deadline + 5 * 60_000 }));
    try {
      for (;;) {
        const remaining = deadline - Date.now();
        const since = seen;
        const woke = remaining > 0 && (await condition(() => pokes > since, remaining));
        const target = pokes;
        seen = target;
        // an outage while reading is waited out: the gateway's answer decides, never its absence
        const now = await beforeAnswer(() => paymentReads.readPaymentAuthorization({ checkoutId, paymentRef: first.paymentRef }));
        checked = target;
        if (now.status === undefined || now.status === 'authorized') {
          // the storefront's pending answer is spent: later calls wait for the order
          pending = undefined;
          waitingForPayment = false;
          // the hold must still stand before an order is placed on it
          await beforeAnswer(() => stores.keepStockHeld({ holdId: checkoutId, untilMs: Date.now() + 15 * 60_000 }));
          return;
        }
        if (!woke && now.status === 'processing') {
          // the customer did their part and the processor has not answered: it cannot be cancelled now, so wait on
          deadline = Date.now() + waitMs;
          await beforeAnswer(() => stores.keepStockHeld({ holdId: checkoutId, untilMs: deadline + 5 * 60_000 }));
          continue;
        }
        if (!woke) {
          throw ApplicationFailure.nonRetryable('the payment was not completed in time (3-D Secure step not finished)', 'payment_action_expired');
        }
        view.nextAction = nextAction(now);
        pending = { ...pending, ...(view.nextAction ? { nextAction: view.nextAction } : {}) };
      }
    } finally {
      waitingForPayment = false;
      view.waitingFor = undefined;
      view.nextAction = undefined;
    }
  };

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
    // the intent's id once known: a search by reference (Stripe's is eventually consistent) is the last resort
    const known: { paymentRef?: string } = {};
    saga.add('voidPayment', async () =>
      returned(await undo.voidPayment({ checkoutId, idempotencyKey: key('void'), authorization, paymentRef: known.paymentRef })),
    );
    const pokesBefore = pokes;
    const auth = await beforeAnswer(() => preAnswerGateway.authorizePayment(authorization));
    known.paymentRef = auth.paymentRef;
    // the authorization's validity counts from before any wait (conservative: it may have authorized later)
    const authorizedAt = Date.now();
    // 3-D Secure or a processing payment: answer 202 with the next action and wait for the
    // gateway's word (histories before this answer `status` absent: authorized).
    if (auth.status !== undefined && auth.status !== 'authorized' && (onePass || patched('checkout-async-authorization'))) {
      await awaitAuthorization(auth, cart.total, pokesBefore);
    }

    enter('creating_order');
    // the order (if one was made) ends cancelled when support decided, failed otherwise
    saga.add('closeOrder', () =>
      (expired ?? parking.cancelReason) !== undefined
        ? undo.cancelOrder({ checkoutId, reason: expired ?? parking.cancelReason ?? 'cancelled' })
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
      // A capture parked past the authorization's validity cannot be retried: cancelled, customer told.
      const expiry = onePass || patched('checkout-authorization-expiry')
        ? {
            at: authorizedAt + (input.authorizationValidityMs ?? DEFAULT_AUTHORIZATION_VALIDITY_MS) - EXPIRY_MARGIN_MS,
            expired: 'the payment authorization expired before the capture could be retried',
          }
        : undefined;
      const finishRequest = { checkoutId, orderId: paidOrderId, cartId: input.cartId, email: input.email, cart };
      // Support's Nth retry of a refused capture sends it under a key of its own.
      const captureKey = () => key(parking.retries === 0 ? 'capture' : `capture/retry-${parking.retries}`);
      // Paid, on the one-activity paths: the saga is spent; a cancel request since is recorded as ignored.
      const paidAndDone = async () => {
        saga.clear();
        moveTo('paid');
        if (view.cancelRequested) {
          await stores.noteOrderEvent({ orderId: paidOrderId, type: 'cancel_request_ignored', reason: 'a cancel request arrived after the order was placed and paid for' });
        }
        enter('completed');
        return finish(done);
      };
      if (captureAndFinish) {
        // The capture, then commit stock, mark paid, "also bought", this checkout's cart lines and
        // the confirmation: one activity. A refusal of the capture parks the capture as below (its
        // reason, its key per support retry, the authorization's expiry). A refusal after the
        // capture succeeded (its failure says so) parks the finishing step: the capture is done,
        // so the expiry no longer applies and support's retry re-runs only finishPaidCheckout.
        let captured = false;
        await parking.run(
          async () => {
            if (captured) return finishing.finishPaidCheckout(finishRequest);
            try {
              return await captureFinishing.captureAndFinishPaidCheckout({
                ...finishRequest,
                captureKey: captureKey(),
              });
            } catch (err) {
              if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && capturedBeforeRefusal(err.cause.details)) {
                captured = true;
                enter('committing_stock');
              }
              throw err;
            }
          },
          () => (captured ? undefined : expiry),
        );
        return await paidAndDone();
      }
      await parking.run(
        () =>
          gateway.capturePayment({
            checkoutId,
            orderId: paidOrderId,
            idempotencyKey: captureKey(),
            amount: cart.total,
          }),
        expiry,
      );

      enter('committing_stock');
      if (onePass) {
        // commit stock, mark paid, "also bought", this checkout's cart lines, the confirmation: one
        // idempotent activity (a refusal to commit or to pay the order parks it, as below)
        await parking.run(() => finishing.finishPaidCheckout(finishRequest));
        return await paidAndDone();
      }
      await parking.run(() => afterAnswer.commitStock(checkoutId));
      await parking.run(() => afterAnswer.markOrderPaid(paidOrderId));
      saga.clear();
      moveTo('paid');
      // "also bought" learns from this order now (the daily recompute would, later)
      if (patched('recommendations-after-paid')) {
        await followUp
          .recordPurchaseForRecommendations({ orderId: paidOrderId })
          .catch((err: unknown) => log.warn('recommendations not updated', { error: String(err) }));
      }

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
    if (cancelled && !err.bySupport) expired = err.reason;
    const failure = cancelled
      ? { code: 'checkout_cancelled', message: err.bySupport ? `cancelled by support: ${err.reason}` : `cancelled: ${err.reason}` }
      : view.cancelRequested
        ? { code: 'checkout_cancelled', message: 'the checkout was cancelled' }
        : toCheckoutFailure(err);
    // No order was ever asked for in this run's memory (closeOrder is registered before
    // createOrder runs): the stock goes back before the void, which may wait on the gateway's
    // breaker. Nothing may capture that authorization afterwards, on any build: so first the
    // checkout's outcome is made final — an order a lost workflow task may have created is
    // closed (the store is asked, not this run's memory) and the checkout row is marked failed,
    // so a replayed request (and claimCheckout of any new run, old builds included) answers
    // this failure instead of starting over — then the stock goes back, then the void.
    // docs/architecture.md, "Compensation order while the gateway is down".
    // Refused before the authorize step was registered (a hold the sweep expired, a cancel on a
    // re-run): in this run's memory no money moved, but the pre-answer steps are local
    // activities, and a lost workflow task may have held stock and sent the authorization before
    // this re-run refused. The stores decide, not this memory (as failOrder does for an order):
    // the hold is released (a no-op when there is none), and the payment store's attempt mark
    // (written before every authorize call) says whether an authorization was sent — sent →
    // the authorize is re-sent under its key for the gateway's definite answer, and voided;
    // never sent → fenced off, so a stale re-run of that task cannot send it later.
    // That void is not in the saga: it runs in a workflow of its own (a child, ABANDON), started
    // once the outcome is final, the stock back and the cart unlocked, and retried there until
    // done, so a payment-store outage never holds up a checkout that (in this run) never reached
    // payment.
    // A run on this build settles such a refusal (most often a hold refused for stock) in the
    // workflow task that refused it: its compensation steps as one local activity (same order:
    // final first, stock back, cart unlocked) and, beside it, the payment store's fence as one
    // more — the attempt mark read and, when there is none, `abandoned` written in one statement
    // (a stale lost-task authorize meets that row and is refused). Fenced → no money can have
    // moved: no child. A mark (a lost task's authorize), or a fence that did not answer → the
    // child, as before. A local step that fails falls back to the regular activities below.
    // Its marker implies the three patches of this path (checkout-void-unseen-authorization,
    // checkout-final-before-release, checkout-release-stock-before-void), never recorded with it.
    const quick = local && frozenInputs && !saga.names.includes('voidPayment') && patched('checkout-refusal-settled-locally');
    let unseenVoid: ((told: typeof failure, notify: boolean) => Promise<void>) | undefined;
    if (local && !saga.names.includes('voidPayment') && (quick || patched('checkout-void-unseen-authorization'))) {
      if (!saga.names.includes('releaseStock')) saga.add('releaseStock', () => undo.releaseStock(checkoutId));
      const authorization = {
        checkoutId,
        idempotencyKey: key('authorize'),
        amount: total ?? input.expectedTotal ?? { amount: 0, currency: money.currency },
        paymentToken: input.paymentToken,
      };
      // A child of its own, so this workflow closes once the customer is answered: its id is the
      // cart's, and the cart's next checkout must start a fresh run, not meet this one.
      unseenVoid = async (told, notify) => {
        try {
          await startChild(voidUnseenAuthorizationWorkflow, {
            workflowId: unseenVoidWorkflowId(checkoutId),
            args: [{ checkoutId, voidKey: key('void'), authorization, failure, total, notify: notify ? { email: input.email, orderId } : undefined }],
            parentClosePolicy: ParentClosePolicy.ABANDON,
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          });
        } catch (e) {
          // a re-run of this checkout: the void is started (or done) already
          if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
          log.info('unseen-authorization void already started', { checkoutId, told: told.code });
        }
      };
    }
    const noOrderAsked = !saga.names.includes('closeOrder');
    const finalFirst = noOrderAsked && (quick || patched('checkout-final-before-release'));
    if (noOrderAsked && (finalFirst || patched('checkout-release-stock-before-void'))) saga.runFirst('releaseStock');
    // What the customer is told before that void decided: "nothing was charged" holds (a
    // checkout that failed before its order never captures; a void only releases a hold), and the
    // refusal's body stays the one the pre-check gives (out_of_stock); once the void found an
    // authorization, the recorded failure (and the notice, sent after it) say it was released.
    enter('compensating');
    return await CancellationScope.nonCancellable(async () => {
      // settled: the local compensation ran (no regular activity needed); fence: what the payment store's fence found
      let settled = false;
      let fence: AuthorizationFate | undefined;
      if (quick) {
        // A workflow-task boundary first (a 1 ms timer): the refusal (a local activity's marker)
        // is in the history before any compensation commits. Compensated in the task that
        // refused, a lost task's re-run would repeat the hold against live stock and could place
        // an order the customer was told failed (test/review/local-refusal-lost-task-places-order.test.ts).
        await sleep(1);
        const told = { ...failure, message: withMoney(failure.message, money) };
        [settled, fence] = await Promise.all([
          refusal.settleRefusedCheckout({ checkoutId, cartId: input.cartId, reason: 'checkout compensated', failure: told, total }).then(
            () => true,
            (e: unknown) => {
              log.warn('local compensation failed: the regular activities compensate', { error: String(e) });
              return false;
            },
          ),
          paymentFence
            .fenceUnseenAuthorization({
              checkoutId,
              idempotencyKey: key('authorize'),
              amount: total ?? input.expectedTotal ?? { amount: 0, currency: money.currency },
            })
            .then(
              (r) => r.fate,
              (e: unknown) => {
                log.warn('payment fence not written: the unseen-void child decides', { error: String(e) });
                return undefined;
              },
            ),
        ]);
      }
      if (settled) {
        // failed, recorded, stock back (the saga holds only releaseStock here) and the cart unlocked
        saga.clear();
      } else {
        if (finalFirst) {
          await undo.failOrder({ checkoutId, reason: 'checkout compensated' });
          await undo.recordCheckoutFailure({ checkoutId, failure: { ...failure, message: withMoney(failure.message, money) }, total });
        }
        await saga.compensate();
      }
      const told = { ...failure, message: withMoney(failure.message, money) };
      // (recorded already when the outcome was made final first)
      if (!(unseenVoid && finalFirst)) await undo.recordCheckoutFailure({ checkoutId, failure: told, total });
      moveTo(cancelled ? 'cancelled' : 'failed');
      let answered = false;
      if (frozenInputs) {
        if (!settled) await undo.unlockCart({ cartId: input.cartId, checkoutId });
        // The customer already had an answer (the 201, or a 202 they are polling): tell them.
        answered = orderId !== undefined || toldPending || (input.answerBy !== undefined && Date.now() >= input.answerBy);
      }
      // fenced: no authorization was ever sent under the key, nor can one be: nothing to void
      if (fence === 'abandoned') unseenVoid = undefined;
      if (unseenVoid) {
        // Final, stock back, cart unlocked: the void, the corrected failure message and the
        // notice go on in their own workflow (unseen-void-<checkoutId>), started before the
        // answer, so the answer and this workflow's close land in one workflow task (finish)
        // and the cart's next checkout never meets this run.
        enter('releasing_authorization');
        await unseenVoid(told, frozenInputs && answered);
      }
      if (frozenInputs && answered && !unseenVoid) {
        await mail
          .sendCheckoutFailureNotice({ checkoutId, orderId, email: input.email, failure: told, money })
          .catch((e: unknown) => log.warn('failure notice not sent', { error: String(e) }));
      }
      enter('failed');
      view.compensations = [];
      // A cancelled workflow still answers its pending updates before it closes.
      return finish({ status: 'failed', checkoutId, total, failure: told });
    });
  }
}
