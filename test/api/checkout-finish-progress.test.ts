import { MockActivityEnvironment } from '@temporalio/testing';
import { BEST_EFFORT_ATTEMPTS, CAPTURE_ATTEMPTS, checkoutFinishActivities } from '../../activities/checkout-finish';
import type { PricedCart } from '../../domain/cart';
import { getFrozenCart } from '../../db/stores/checkouts';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * finishPaidCheckout's progress (activities/checkout-finish.ts): it heartbeats what is done after
 * each step and a retry skips the done steps (an SMTP outage re-runs only the confirmation, not
 * "also bought"); "also bought" and the cart step retry the activity for the first
 * BEST_EFFORT_ATTEMPTS attempts, then are logged and passed over. Real stores; the three
 * delegated steps are counted.
 */
describe('finishPaidCheckout: progress in heartbeat details, best-effort steps retried', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function paidCheckout() {
    const sku = await createProduct(stack.dbs, { priceAmount: 500, onHand: 10 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const email = `progress-${cartId}@example.com`;
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `progress-${cartId}` }, body: { cartId, email, paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    const checkoutId = res.body.checkoutId as string;
    const cart = (await getFrozenCart(stack.dbs.order, checkoutId)) as PricedCart;
    return { checkoutId, orderId: res.body.orderId as string, cartId, email, cart };
  }

  function counted(opts: { recommendations?: 'fail'; confirmation?: 'fail'; capture?: 'fail'; capturedAnyway?: true }) {
    const calls = { stock: 0, recommendations: 0, confirmation: 0, capture: 0 };
    const activities = checkoutFinishActivities(stack.activityDeps as NonNullable<Stack['activityDeps']>, {
      commitStock: async () => {
        calls.stock++;
        return undefined as never;
      },
      recordPurchaseForRecommendations: async () => {
        calls.recommendations++;
        if (opts.recommendations === 'fail') throw new Error('recommendations store down');
        return { counted: true, generations: 1 };
      },
      sendOrderConfirmation: async () => {
        calls.confirmation++;
        if (opts.confirmation === 'fail') throw new Error('SMTP down');
        return { sent: true } as never;
      },
      capturePayment: async () => {
        calls.capture++;
        if (opts.capture === 'fail') throw new Error('gateway answered 503');
      },
      // the gateway, asked once the budget is spent: did it capture (every reply lost)?
      confirmCapture: async () => opts.capturedAnyway === true,
    });
    return { calls, finish: activities.finishPaidCheckout, captureAndFinish: activities.captureAndFinishPaidCheckout };
  }

  it('a retry after an SMTP outage re-runs only the confirmation: the done steps come from the heartbeat details', async () => {
    const req = await paidCheckout();
    const down = counted({ confirmation: 'fail' });
    const first = new MockActivityEnvironment({ attempt: 1 });
    let details: unknown;
    first.on('heartbeat', (d: unknown) => {
      details = d;
    });
    await expect(first.run(down.finish, req)).rejects.toThrow('SMTP down');
    expect(down.calls).toEqual({ stock: 1, recommendations: 1, confirmation: 1, capture: 0 });
    expect(details).toMatchObject({ stock: true, paid: true, recommendations: true, cart: true });

    const up = counted({});
    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: details });
    await expect(retry.run(up.finish, req)).resolves.toEqual({ markedPaid: false, recommendationsCounted: true, cartCleared: true, confirmationSent: true });
    expect(up.calls).toEqual({ stock: 0, recommendations: 0, confirmation: 1, capture: 0 });
  });

  it('captureAndFinishPaidCheckout: a retry after the capture (an SMTP outage later in the attempt) does not capture again; the heartbeat says it is done', async () => {
    const req = { ...(await paidCheckout()), captureKey: 'unused' };
    const down = counted({ confirmation: 'fail' });
    const first = new MockActivityEnvironment({ attempt: 1 });
    let details: unknown;
    first.on('heartbeat', (d: unknown) => {
      details = d;
    });
    // an outage after the capture is retried (not marked as a refusal after the capture)
    await expect(first.run(down.captureAndFinish, req)).rejects.toThrow('SMTP down');
    expect(down.calls).toEqual({ stock: 1, recommendations: 1, confirmation: 1, capture: 1 });
    expect(details).toMatchObject({ captured: true, stock: true, paid: true, recommendations: true, cart: true });

    const up = counted({});
    await expect(new MockActivityEnvironment({ attempt: 2, heartbeatDetails: details }).run(up.captureAndFinish, req)).resolves.toMatchObject({ confirmationSent: true });
    expect(up.calls).toEqual({ stock: 0, recommendations: 0, confirmation: 1, capture: 0 });
  });

  it(`captureAndFinishPaidCheckout: a capture outage is retried, and parks (non-retryable, same type and message) from attempt ${CAPTURE_ATTEMPTS} on, before any later step`, async () => {
    const req = { ...(await paidCheckout()), captureKey: 'unused' };
    const down = counted({ capture: 'fail' });
    await expect(new MockActivityEnvironment({ attempt: CAPTURE_ATTEMPTS - 1 }).run(down.captureAndFinish, req)).rejects.toMatchObject({ message: 'gateway answered 503' });
    await expect(new MockActivityEnvironment({ attempt: CAPTURE_ATTEMPTS }).run(down.captureAndFinish, req)).rejects.toMatchObject({
      type: 'Error',
      message: 'gateway answered 503',
      nonRetryable: true,
    });
    expect(down.calls).toEqual({ stock: 0, recommendations: 0, confirmation: 0, capture: 2 });
  });

  it(`captureAndFinishPaidCheckout: at attempt ${CAPTURE_ATTEMPTS}, a capture the gateway made although every reply was lost is not parked: the order is finished`, async () => {
    const req = { ...(await paidCheckout()), captureKey: 'unused' };
    const lost = counted({ capture: 'fail', capturedAnyway: true });
    await expect(new MockActivityEnvironment({ attempt: CAPTURE_ATTEMPTS }).run(lost.captureAndFinish, req)).resolves.toMatchObject({ confirmationSent: true });
    expect(lost.calls).toEqual({ stock: 1, recommendations: 1, confirmation: 1, capture: 1 });
  });

  it('"also bought" failing retries the activity for the first attempts, then is logged and passed over', async () => {
    const req = await paidCheckout();
    const failing = counted({ recommendations: 'fail' });
    await expect(new MockActivityEnvironment({ attempt: 1 }).run(failing.finish, req)).rejects.toThrow('recommendations store down');
    expect(failing.calls.confirmation).toBe(0);
    await expect(new MockActivityEnvironment({ attempt: BEST_EFFORT_ATTEMPTS + 1 }).run(failing.finish, req)).resolves.toMatchObject({ recommendationsCounted: false, confirmationSent: true });
    expect(failing.calls.confirmation).toBe(1);
  });
});
