import { randomBytes } from 'node:crypto';
import { checkouts, orders } from '../../db/schema/order';
import { createTestDeps, startTestApp, type TestDeps } from '../helpers/app';

/**
 * Review: "support reads any order by id" (cca4a49) — GET /orders/:id honours a support credential,
 * but GET /orders/:id/refunds only knows the customer's token (usecases/list-refunds.ts): support,
 * who alone may POST a refund, gets 404 for the refunds of an account's order it can read.
 */
describe('review: support reads the refunds of an account\'s order', () => {
  let deps: TestDeps;
  let app: { baseUrl: string; close(): Promise<void> };
  beforeAll(async () => {
    deps = await createTestDeps();
    app = await startTestApp(deps);
  });
  afterAll(async () => {
    await app?.close();
    await deps?.close();
  });

  it('the order and its refunds are both readable with the support credential', async () => {
    const id = randomBytes(8).toString('hex');
    const customerId = `cus_${randomBytes(16).toString('base64url').slice(0, 22)}`;
    const orderId = `ord_${id}`;
    await deps.dbs.order.insert(checkouts).values({ checkoutId: `chk_${id}`, cartId: `cart_${id}`, idempotencyKey: id, requestHash: id, email: 'acct@example.com', customerId, status: 'placed', workflowId: `wf-${id}`, orderId });
    await deps.dbs.order.insert(orders).values({ id: orderId, checkoutId: `chk_${id}`, cartId: `cart_${id}`, email: 'acct@example.com', customerId, status: 'paid', currency: 'USD', totalAmount: 500 });
    const support = { Authorization: `Bearer ${deps.config.adminApiToken}` };
    const order = await fetch(`${app.baseUrl}/orders/${orderId}`, { headers: support });
    expect(order.status).toBe(200);
    const refunds = await fetch(`${app.baseUrl}/orders/${orderId}/refunds`, { headers: support });
    expect(refunds.status).toBe(200);
  });
});
