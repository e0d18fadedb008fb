import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { checkoutWorkflow } from '../../workflows/checkout';
import type { PricedCart } from '../../domain/cart';
import { cancelSignal, checkoutStatusQuery, placeOrderUpdate, retrySignal, type CheckoutInput } from '../../workflows/messages';
import { fakeCheckoutActivities, withFinish } from '../helpers/checkout-fakes';
import { createTimeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';

const cart: PricedCart = {
  cartId: 'cart_adv',
  currency: 'USD',
  lines: [{ sku: 'A', name: 'A', quantity: 1, unitPrice: { amount: 500, currency: 'USD' }, lineTotal: { amount: 500, currency: 'USD' } }],
  total: { amount: 500, currency: 'USD' },
};
const input = (checkoutId: string): CheckoutInput => ({ checkoutId, cartId: 'cart_adv', email: 'buyer@example.com', paymentToken: 'tok_visa' });

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}
const until = async (probe: () => boolean, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
};

function fakeActivities(calls: string[]) {
  return fakeCheckoutActivities({ cart, calls, refunded: { action: 'refunded', amount: 500, currency: 'USD' } });
}

describe('checkout saga edges found by the adversarial review (time-skipping, fake activities)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('a Temporal cancel while the local createOrder is still running: the order must not be created after its compensation ran', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('adv');
    const slowDb = gate();
    const activities = {
      ...fakeActivities(calls),
      // the order transaction is slow (a lock wait, a slow disk): it commits only when the test lets it
      createOrder: async () => {
        calls.push('createOrder:started');
        await slowDb.opened;
        calls.push('createOrder:committed');
        return { orderId: 'ord_1' };
      },
    };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    const outcome = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(checkoutWorkflow, { taskQueue, workflowId: 'checkout-adv-cancel-mid-create', args: [input('chk_adv_mid')] });
      await until(() => calls.includes('createOrder:started'));
      await handle.cancel();
      // give the worker time to see the cancel (the workflow task heartbeat of a long local activity)
      await until(() => calls.includes('failOrder'), 25_000);
      slowDb.open();
      await until(() => calls.includes('createOrder:committed'));
      return handle.result();
    });
    const committed = calls.indexOf('createOrder:committed');
    const failed = calls.indexOf('failOrder');
    // failOrder looked for the order before the order existed: the order is left placed, the
    // checkout failed and its payment voided (in the real store: checkouts.status and orderId
    // written by both, a replayed POST answers 201 for an order nobody pays for)
    expect({ outcome: outcome.status, failOrderRanAfterOrderCommitted: failed === -1 || failed > committed, calls }).toEqual({
      outcome: outcome.status,
      failOrderRanAfterOrderCommitted: true,
      calls,
    });
  }, 60_000);

  it('an SMTP outage longer than any retry budget: the failure notice after a 201 still goes out once SMTP is back (invariant 12)', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('adv');
    let noticeAttempts = 0;
    const sent: unknown[] = [];
    const activities = withFinish({
      ...fakeActivities(calls),
      capturePayment: async () => {
        calls.push('capturePayment');
        throw ApplicationFailure.nonRetryable('the card issuer refused the capture', 'capture_refused');
      },
      // the mail server is down for about 15 minutes, then back
      sendCheckoutFailureNotice: async (req: unknown) => {
        noticeAttempts += 1;
        if (noticeAttempts <= 12) throw new Error('connect ECONNREFUSED 127.0.0.1:1025');
        sent.push(req);
        return { sent: true };
      },
    });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(checkoutWorkflow, { taskQueue, workflowId: 'checkout-adv-smtp', args: [input('chk_adv_smtp')] });
      expect((await handle.executeUpdate(placeOrderUpdate, { args: [{ checkoutId: 'chk_adv_smtp' }] })).status).toBe('placed');
      await env.sleep('1 minute');
      await handle.signal(cancelSignal, { reason: 'card issuer refuses' });
      await handle.result();
      await env.sleep('2 hours');
    });
    expect({ attempts: noticeAttempts, sent: sent.length }).toEqual({ attempts: 13, sent: 1 });
  }, 60_000);

  it('support clicks retry and another support agent clicks cancel on the same parked order: a cancel that arrived while nothing was parked is recorded as ignored and never fires at a later parking', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('adv');
    let captures = 0;
    const inFlight = gate();
    const activities = withFinish({
      ...fakeActivities(calls),
      capturePayment: async () => {
        calls.push('capturePayment');
        captures += 1;
        if (captures === 1) throw ApplicationFailure.nonRetryable('issuer said try later', 'capture_refused');
        await inFlight.opened; // the retried capture is at the gateway
      },
      commitStock: async () => {
        calls.push('commitStock');
        throw ApplicationFailure.nonRetryable('the hold expired and the stock was sold', 'out_of_stock');
      },
    });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities });
    const view = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(checkoutWorkflow, { taskQueue, workflowId: 'checkout-adv-retry-cancel', args: [input('chk_adv_rc')] });
      expect((await handle.executeUpdate(placeOrderUpdate, { args: [{ checkoutId: 'chk_adv_rc' }] })).status).toBe('placed');
      await until(() => calls.includes('markOrderNeedsAttention'));
      // both agents saw step=needs_attention (the admin route's check); retry lands first
      await handle.signal(retrySignal);
      await until(() => captures === 2);
      await handle.signal(cancelSignal, { reason: 'agent 2: customer asked to cancel' });
      inFlight.open();
      // the capture went through; the stock commit is refused: this must wait for a human
      await until(() => calls.includes('commitStock'));
      await env.sleep('5 minutes');
      return handle.query(checkoutStatusQuery);
    });
    expect({ step: view.step, refunded: calls.includes('refundPayment') }).toEqual({ step: 'needs_attention', refunded: false });
  }, 60_000);
});
