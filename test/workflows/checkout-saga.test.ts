import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { checkoutWorkflow } from '../../workflows/checkout';
import { unseenVoidWorkflowId } from '../../workflows/void-unseen-authorization';
import type { PricedCart } from '../../domain/cart';
import { cancelSignal, checkoutStatusQuery, placeOrderUpdate, type CheckoutInput } from '../../workflows/messages';
import { fakeCheckoutActivities, withFinish } from '../helpers/checkout-fakes';
import { createTimeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';

const cart: PricedCart = {
  cartId: 'cart_1',
  currency: 'USD',
  lines: [
    { sku: 'A', name: 'A', quantity: 1, unitPrice: { amount: 500, currency: 'USD' }, lineTotal: { amount: 500, currency: 'USD' } },
    { sku: 'A', name: 'A', quantity: 2, unitPrice: { amount: 500, currency: 'USD' }, lineTotal: { amount: 1000, currency: 'USD' } },
    { sku: 'B', name: 'B', quantity: 1, unitPrice: { amount: 250, currency: 'USD' }, lineTotal: { amount: 250, currency: 'USD' } },
  ],
  total: { amount: 1750, currency: 'USD' },
};

const input = (checkoutId: string): CheckoutInput => ({
  checkoutId,
  cartId: 'cart_1',
  email: 'buyer@example.com',
  paymentToken: 'tok_visa',
});

type Step = 'freezeCart' | 'holdStock' | 'authorizePayment' | 'createOrder' | 'commitStock';
const COMPENSATIONS = ['releaseStock', 'voidPayment', 'failOrder', 'refundPayment', 'recordCheckoutFailure', 'unlockCart'];

/** Activities that record each call and fail at the named step. */
function fakeActivities(failAt: Step | undefined, calls: string[], failure?: ApplicationFailure) {
  return fakeCheckoutActivities({ cart, calls, failAt, failure });
}

describe('checkout saga (time-skipping, fake activities)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  /** The unseen-authorization void's child, when the checkout started one (else: not found, at once). */
  const untilVoided = (checkoutId: string) =>
    env.client.workflow
      .getHandle(unseenVoidWorkflowId(checkoutId))
      .result()
      .catch((e: unknown) => {
        if (!(e instanceof WorkflowNotFoundError)) throw e;
      });

  async function run(failAt: Step | undefined, checkoutId: string, failure?: ApplicationFailure) {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('saga');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: fakeActivities(failAt, calls, failure),
    });
    const outcome = await worker.runUntil(async () => {
      const done = await env.client.workflow.execute(checkoutWorkflow, { taskQueue, workflowId: `checkout-${checkoutId}`, args: [input(checkoutId)] });
      // the checkout closes once answered; an unseen-authorization void goes on in its child
      await untilVoided(checkoutId);
      return done;
    });
    return { outcome, calls, compensations: calls.filter((c) => COMPENSATIONS.includes(c)) };
  }

  it('when every step succeeds, the order is paid and nothing is compensated', async () => {
    const { outcome, calls, compensations } = await run(undefined, 'chk_ok');
    expect(outcome).toEqual({ status: 'placed', checkoutId: 'chk_ok', orderId: 'ord_1', total: cart.total });
    expect(compensations).toEqual([]);
    expect(calls).toEqual([
      'claimCheckout', 'freezeCart', 'holdStock', 'authorizePayment', 'createOrder',
      'capturePayment', 'commitStock', 'markOrderPaid', 'clearCart', 'sendOrderConfirmation',
    ]);
  });

  // A step's own compensation is registered before it runs (it may have succeeded and
  // then timed out), so failing at step N runs N's compensation, then N-1 … 1 — except that
  // before any order was asked for, the checkout's outcome is made final first (an order a lost
  // workflow task may have created is closed, the checkout row is marked failed: a replay answers
  // that failure on any build), then the stock goes back (the void may wait on the gateway; nothing
  // can capture that authorization any more). (A failed capture parks the checkout for support
  // instead: see the parking tests below.)
  it.each<[Step, string[]]>([
    ['authorizePayment', ['failOrder', 'recordCheckoutFailure', 'releaseStock', 'voidPayment', 'recordCheckoutFailure', 'unlockCart']],
    ['createOrder', ['failOrder', 'voidPayment', 'releaseStock', 'recordCheckoutFailure', 'unlockCart']],
  ])('when %s fails, the compensations run newest first: %j', async (failAt, expected) => {
    const { outcome, compensations, calls } = await run(failAt, `chk_fail_${failAt}`);
    expect(compensations).toEqual(expected);
    expect(outcome.status).toBe('failed');
    expect(calls).not.toContain('markOrderPaid');
    expect(calls).not.toContain('sendOrderConfirmation');
    // answered synchronously with the failure: no email on top of it
    expect(calls).not.toContain('sendCheckoutFailureNotice');
  });

  it('after the answer, a stock commit refused for a business reason parks the order instead of compensating it', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('saga');
    const activities = fakeActivities('commitStock', calls, ApplicationFailure.nonRetryable('the hold expired and the stock was sold', 'out_of_stock'));
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(checkoutWorkflow, { taskQueue, workflowId: 'checkout-commit-parked', args: [input('chk_commit_parked')] });
      expect((await handle.executeUpdate(placeOrderUpdate, { args: [{ checkoutId: 'chk_commit_parked' }] })).status).toBe('placed');
      await env.sleep('1 minute');
      expect(await handle.query(checkoutStatusQuery)).toMatchObject({ step: 'needs_attention' });
      expect(calls).not.toContain('refundPayment');
      await handle.signal(cancelSignal, { reason: 'no stock left to ship' });
      expect(await handle.result()).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    });
    expect(calls.filter((c) => COMPENSATIONS.includes(c) || c === 'cancelOrder')).toEqual([
      'refundPayment', 'cancelOrder', 'voidPayment', 'releaseStock', 'recordCheckoutFailure', 'unlockCart',
    ]);
    expect(calls).toContain('sendCheckoutFailureNotice');
  });

  it('after the answer, store steps that fail for an hour are retried until they succeed: the order is paid, nothing compensated', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('saga');
    let commitFailures = 0;
    let paidFailures = 0;
    const activities = withFinish({
      ...fakeActivities(undefined, calls),
      commitStock: async () => {
        calls.push('commitStock');
        if (commitFailures++ < 30) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      },
      markOrderPaid: async () => {
        calls.push('markOrderPaid');
        if (paidFailures++ < 30) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      },
    });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    const outcome = await worker.runUntil(
      env.client.workflow.execute(checkoutWorkflow, { taskQueue, workflowId: 'checkout-outage', args: [input('chk_outage')] }),
    );
    expect(outcome).toMatchObject({ status: 'placed', orderId: 'ord_1' });
    // one activity since checkout-finish-in-one-activity: each of mark-paid's failed attempts re-ran the (idempotent) commit first
    expect(calls.filter((c) => c === 'commitStock')).toHaveLength(61);
    expect(calls.filter((c) => c === 'markOrderPaid')).toHaveLength(31);
    expect(calls.filter((c) => COMPENSATIONS.includes(c))).toEqual([]);
    expect(calls).toContain('sendOrderConfirmation');
  });

  it('a cancel request after the order is placed is recorded and ignored: the order is captured, paid and confirmed', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('saga');
    let captureAttempts = 0;
    const activities = withFinish({
      ...fakeActivities(undefined, calls),
      capturePayment: async () => {
        calls.push('capturePayment');
        if (captureAttempts++ < 2) throw new Error('gateway answered 503');
      },
    });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(checkoutWorkflow, { taskQueue, workflowId: 'checkout-cancel-late', args: [input('chk_cancel_late')] });
      expect((await handle.executeUpdate(placeOrderUpdate, { args: [{ checkoutId: 'chk_cancel_late' }] })).status).toBe('placed');
      await handle.cancel();
      expect(await handle.result()).toMatchObject({ status: 'placed', orderId: 'ord_1' });
      expect((await handle.query(checkoutStatusQuery)).cancelRequested).toBe(true);
    });
    expect(calls).toEqual(expect.arrayContaining(['markOrderPaid', 'sendOrderConfirmation', 'noteOrderEvent']));
    expect(calls.filter((c) => COMPENSATIONS.includes(c))).toEqual([]);
  });

  it('a cancel request before the order exists compensates what was done', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('saga');
    const activities = {
      ...fakeActivities(undefined, calls),
      authorizePayment: async () => {
        calls.push('authorizePayment');
        throw new Error('gateway answered 503');
      },
    };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(checkoutWorkflow, { taskQueue, workflowId: 'checkout-cancel-early', args: [input('chk_cancel_early')] });
      while (!calls.includes('authorizePayment')) await new Promise((r) => setTimeout(r, 50));
      await handle.cancel();
      expect(await handle.result()).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    });
    expect(calls.filter((c) => COMPENSATIONS.includes(c))).toEqual(['failOrder', 'recordCheckoutFailure', 'releaseStock', 'voidPayment', 'recordCheckoutFailure', 'unlockCart']);
    expect(calls).not.toContain('createOrder');
  });

  it('when the card is declined, the failure carries the decline code and the stock hold is released', async () => {
    const decline = ApplicationFailure.create({ type: 'payment_declined', message: 'declined', details: [{ declineCode: 'card_declined' }], nonRetryable: true });
    const { outcome, compensations } = await run('authorizePayment', 'chk_declined', decline);
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'payment_declined', details: { declineCode: 'card_declined' } } });
    expect(compensations).toEqual(['failOrder', 'recordCheckoutFailure', 'releaseStock', 'voidPayment', 'recordCheckoutFailure', 'unlockCart']);
  });

  it('answers the placeOrder update once the order exists, and rejects another checkout id', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('saga');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities: fakeActivities(undefined, calls) });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(checkoutWorkflow, { taskQueue, workflowId: 'checkout-update', args: [input('chk_upd')] });
      await expect(handle.executeUpdate(placeOrderUpdate, { args: [{ checkoutId: 'chk_other' }] })).rejects.toMatchObject({
        cause: { type: 'checkout_in_progress' },
      });
      const placed = await handle.executeUpdate(placeOrderUpdate, { args: [{ checkoutId: 'chk_upd' }] });
      expect(placed).toMatchObject({ status: 'placed', orderId: 'ord_1' });
      await handle.result();
      const status = await handle.query(checkoutStatusQuery);
      expect(status.step).toBe('completed');
    });
  });

  it('a capture that keeps failing past its retry budget parks the checkout; a cancel then compensates', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('saga');
    const activities = withFinish({
      ...fakeActivities(undefined, calls),
      capturePayment: async () => {
        calls.push('capturePayment');
        throw new Error('gateway answered 503');
      },
      refundPayment: async () => {
        calls.push('refundPayment');
        return { action: 'refunded', amount: 1750, currency: 'USD' };
      },
    });
    const notices: unknown[] = [];
    activities.sendCheckoutFailureNotice = async (...args: unknown[]) => {
      notices.push(args[0]);
      return { sent: true };
    };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(checkoutWorkflow, { taskQueue, workflowId: 'checkout-parked', args: [input('chk_parked')] });
      const placed = await handle.executeUpdate(placeOrderUpdate, { args: [{ checkoutId: 'chk_parked' }] });
      expect(placed.status).toBe('placed');
      await env.sleep('10 minutes'); // past the capture's retry backoff
      const status = await handle.query(checkoutStatusQuery);
      expect(status).toMatchObject({ step: 'needs_attention', waitingFor: expect.any(String) });
      expect(status.lastError).toContain('503');
      expect(calls).toContain('markOrderNeedsAttention');
      expect(calls.filter((c) => c === 'capturePayment')).toHaveLength(6);
      expect(calls).not.toContain('refundPayment');
      await handle.signal(cancelSignal, { reason: 'card issuer unreachable' });
      expect(await handle.result()).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled' } });
    });
    expect(calls.filter((c) => COMPENSATIONS.includes(c) || c === 'cancelOrder')).toEqual([
      'refundPayment', 'cancelOrder', 'voidPayment', 'releaseStock', 'recordCheckoutFailure', 'unlockCart',
    ]);
    // the customer had a 201: one email saying the order was cancelled and the money refunded
    expect(notices).toEqual([
      expect.objectContaining({ orderId: 'ord_1', failure: expect.objectContaining({ code: 'checkout_cancelled' }), money: { action: 'refunded', amount: 1750, currency: 'USD' } }),
    ]);
  });

  it('a checkout that already finished returns its stored outcome without running any step', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('saga');
    const activities = { ...fakeActivities(undefined, calls), claimCheckout: async () => ({ status: 'placed', checkoutId: 'chk_done', orderId: 'ord_9', total: cart.total }) };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    const outcome = await worker.runUntil(env.client.workflow.execute(checkoutWorkflow, { taskQueue, workflowId: 'checkout-done', args: [input('chk_done')] }));
    expect(outcome).toMatchObject({ status: 'placed', orderId: 'ord_9' });
    expect(calls).toEqual([]);
  });
  // Refused before the authorize step was registered: a lost workflow task may have held stock and
  // authorized, so the hold is released and the store's attempt mark asked — by the local fence
  // (fenceUnseenAuthorization); only a mark found (below: the fence answers `attempted`) starts the
  // child workflow (ABANDON) that voids it (voidPayment onlyIfAttempted) and corrects the message. These run last: after such a child has closed, the
  // time-skipping test server no longer skips time for the tests that sleep (a quirk of the test
  // server; the real server's runs are in test/review/lost-authorize-task-expired-hold-no-void and
  // test/review/unlocked-cart-still-held-by-void).
  it.each<[Step, string[]]>([
    ['freezeCart', ['failOrder', 'recordCheckoutFailure', 'releaseStock', 'unlockCart']],
    ['holdStock', ['failOrder', 'recordCheckoutFailure', 'releaseStock', 'unlockCart']],
  ])('when %s fails, the compensations run newest first, no attempt marked: fenced, no void child: %j', async (failAt, expected) => {
    const { outcome, compensations, calls } = await run(failAt, `chk_fail_${failAt}`);
    expect(compensations).toEqual(expected);
    expect(outcome.status).toBe('failed');
    expect(calls).not.toContain('markOrderPaid');
    expect(calls).not.toContain('sendCheckoutFailureNotice');
  });

  it('when the expected total differs, it fails with price_changed before holding anything', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('saga');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities: fakeActivities(undefined, calls) });
    const outcome = await worker.runUntil(async () => {
      const done = await env.client.workflow.execute(checkoutWorkflow, {
        taskQueue,
        workflowId: 'checkout-price-changed',
        args: [{ ...input('chk_price'), expectedTotal: { amount: 1700, currency: 'USD' } }],
      });
      await untilVoided('chk_price');
      return done;
    });
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'price_changed', details: { total: cart.total } } });
    // no hold asked for; the release and the payment fence answer for a lost workflow task that may
    // have gone further: the fence found no attempt mark (wrote `abandoned`), so no void child
    expect([...calls].sort()).toEqual(['claimCheckout', 'failOrder', 'fenceUnseenAuthorization', 'freezeCart', 'recordCheckoutFailure', 'releaseStock', 'unlockCart']);
    // the compensation keeps its order: final first, then the stock, then the cart
    expect(calls.filter((c) => c !== 'fenceUnseenAuthorization')).toEqual(['claimCheckout', 'freezeCart', 'failOrder', 'recordCheckoutFailure', 'releaseStock', 'unlockCart']);
  });

  /** A checkout refused by its hold, its activities as given; returns its calls and whether the unseen-void child ran. */
  async function refusedByHold(checkoutId: string, activities: Record<string, unknown>, calls: string[]) {
    const taskQueue = uniqueTaskQueue('saga');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    return worker.runUntil(async () => {
      const handle = await env.client.workflow.start(checkoutWorkflow, { taskQueue, workflowId: `checkout-${checkoutId}`, args: [input(checkoutId)] });
      const done = await handle.result();
      const child = await env.client.workflow
        .getHandle(unseenVoidWorkflowId(checkoutId))
        .result()
        .then((m: unknown) => m)
        .catch((e: unknown) => {
          if (!(e instanceof WorkflowNotFoundError)) throw e;
          return 'no child';
        });
      const events = (await handle.fetchHistory()).events ?? [];
      return { done, child, calls, events };
    });
  }
  const outOfStock = ApplicationFailure.create({ type: 'out_of_stock', message: 'not enough stock for some items', nonRetryable: true });

  it('a hold refused for stock: compensated locally, fenced, answered — no child, no regular activity', async () => {
    const calls: string[] = [];
    const { done, child, events } = await refusedByHold('chk_hold_refused', fakeCheckoutActivities({ cart, calls, failAt: 'holdStock', failure: outOfStock }), calls);
    expect(done).toMatchObject({ status: 'failed', failure: { code: 'out_of_stock', message: 'not enough stock for some items; nothing was charged' } });
    expect(child).toBe('no child');
    expect(calls).toEqual(expect.arrayContaining(['holdStock', 'failOrder', 'recordCheckoutFailure', 'releaseStock', 'unlockCart', 'fenceUnseenAuthorization']));
    expect(calls).not.toContain('voidPayment');
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    // the refusal is in the history (a completed task) before the compensation's local activities ran
    const kinds = events.map((e) => (e.markerRecordedEventAttributes ? 'marker' : e.workflowTaskCompletedEventAttributes ? 'taskCompleted' : e.timerStartedEventAttributes ? 'timer' : 'other'));
    const timerAt = kinds.indexOf('timer');
    expect(timerAt).toBeGreaterThan(0);
    expect(kinds.slice(timerAt + 1).filter((k) => k === 'marker').length).toBeGreaterThanOrEqual(2);
  });

  it('a hold refused where a lost task marked an authorize attempt: the unseen-void child voids it', async () => {
    const calls: string[] = [];
    const activities = fakeCheckoutActivities({ cart, calls, failAt: 'holdStock', failure: outOfStock, fence: 'attempted' });
    const { done, child } = await refusedByHold('chk_hold_refused_marked', activities, calls);
    expect(done).toMatchObject({ status: 'failed', failure: { code: 'out_of_stock' } });
    expect(child).toMatchObject({ action: 'none' });
    // the child's void (onlyIfAttempted) and its correction of the recorded failure
    expect(calls.slice(calls.indexOf('fenceUnseenAuthorization') + 1)).toEqual(expect.arrayContaining(['voidPayment']));
  });

  it('a hold refused while the local steps fail: the regular compensation activities and the child take over', async () => {
    const calls: string[] = [];
    const activities = {
      ...fakeCheckoutActivities({ cart, calls, failAt: 'holdStock', failure: outOfStock }),
      settleRefusedCheckout: async () => {
        calls.push('settleRefusedCheckout');
        throw new Error('order store down');
      },
      fenceUnseenAuthorization: async () => {
        calls.push('fenceUnseenAuthorization');
        throw new Error('payment store down');
      },
    };
    const { done, child, events } = await refusedByHold('chk_hold_refused_fallback', activities, calls);
    expect(done).toMatchObject({ status: 'failed', failure: { code: 'out_of_stock' } });
    expect(child).toMatchObject({ action: 'none' });
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)).toEqual(
      ['failOrder', 'recordCheckoutFailure', 'releaseStock', 'unlockCart'],
    );
    expect(calls).toContain('voidPayment');
  });
});
