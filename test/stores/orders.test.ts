import { randomBytes } from 'node:crypto';
import { claimCheckout, openCheckout } from '../../db/stores/checkouts';
import { createOrder } from '../../db/stores/orders';
import { createTestDeps, type TestDeps } from '../helpers/app';

describe('claimCheckout', () => {
  let deps: TestDeps;
  beforeAll(async () => {
    deps = await createTestDeps();
  });
  afterAll(async () => {
    await deps?.close();
  });

  it('lets the same run go on after it placed the order (its local steps re-run after a crash), and answers another run with the stored outcome', async () => {
    const cartId = `cart_${randomBytes(8).toString('hex')}`;
    const { checkout } = await openCheckout(deps.dbs.order, { cartId, idempotencyKey: 'k', requestHash: 'h', email: 'a@b.co', workflowId: `checkout-${cartId}` });
    const order = {
      checkoutId: checkout.checkoutId,
      cartId,
      email: 'a@b.co',
      currency: 'USD',
      totalAmount: 1000,
      lines: [{ sku: 'X-1', name: 'x', quantity: 1, unitPrice: 1000, lineTotal: 1000 }],
    };
    expect(await claimCheckout(deps.dbs.order, checkout.checkoutId, 'run-1')).toBeUndefined();
    const orderId = await createOrder(deps.dbs.order, order);
    // the run that placed it, re-running its steps from the claim: goes on (and gets the same order)
    expect(await claimCheckout(deps.dbs.order, checkout.checkoutId, 'run-1')).toBeUndefined();
    expect(await createOrder(deps.dbs.order, order)).toBe(orderId);
    // a late duplicate start (another run) is answered with what happened
    expect(await claimCheckout(deps.dbs.order, checkout.checkoutId, 'run-2')).toMatchObject({ status: 'placed', orderId, runId: 'run-1' });
  });
});
