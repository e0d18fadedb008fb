import { eq } from 'drizzle-orm';
import { Client as PgClient } from 'pg';
import { checkouts } from '../../db/schema/order';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review r26c, against a29a554 (patch checkout-void-unseen-authorization).
 *
 * A checkout refused before its authorize step (price_changed, out_of_stock, a cancel) now
 * answers the customer and unlocks the cart, and only THEN runs the unseen-authorization void
 * (voidPayment onlyIfAttempted) and a second recordCheckoutFailure, "retrying until done, in
 * this workflow". But the checkout workflow's id is per CART (checkout-<cartId>) and the API
 * starts it with update-with-start, workflowIdConflictPolicy USE_EXISTING: the customer's next
 * checkout of the unlocked cart (the corrected price_changed, a new Idempotency-Key) attaches
 * to the still-running failed workflow, whose placeOrderUpdate validator refuses any other
 * checkoutId → 409 checkout_in_progress. The API has meanwhile opened the new checkout row and
 * locked the cart for it, so even after the void finished a third key is refused too (the cart
 * is locked for the orphan until its TTL). On main the answer left only when the workflow was
 * done (finish), so a retry after the answer started a fresh run.
 *
 * 1. no fault: the storefront re-submits the corrected total right after the 409 price_changed;
 * 2. the payment store slow/unavailable (the previous review's outage, simulated by a table
 *    lock as in payment-store-outage-blocks-price-changed): the "cart unlocked" the fix claims
 *    is unusable for the whole outage, and after it.
 */
describe('the cart is unlocked while the failed checkout still voids', () => {
  let stack: Stack;
  let locker: PgClient | undefined;

  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '4000' } });
  }, 120_000);
  afterAll(async () => {
    await locker?.query('rollback').catch(() => undefined);
    await locker?.end().catch(() => undefined);
    await stack?.close();
  });

  async function cartWith(sku: string): Promise<string> {
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    return cartId;
  }
  const checkout = (cartId: string, key: string, amount: number) =>
    stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': key },
      body: { cartId, email: 'retry-after-409@example.com', paymentToken: 'tok_visa', expectedTotal: { amount, currency: 'USD' } },
    });
  const codeOf = (res: { body: any }) => res.body?.error?.code ?? res.body?.code; // eslint-disable-line @typescript-eslint/no-explicit-any

  it('a corrected checkout right after 409 price_changed is not refused checkout_in_progress', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 50 });
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const cartId = await cartWith(sku);
      const stale = await checkout(cartId, `r26c-stale-${i}-${cartId}`, 400);
      expect(codeOf(stale)).toBe('price_changed');
      const fixed = await checkout(cartId, `r26c-fixed-${i}-${cartId}`, 1000);
      seen.push(`${fixed.status}:${codeOf(fixed) ?? fixed.body?.status}`);
    }
    console.log(JSON.stringify({ retriesAfterPriceChanged: seen }));
    expect(seen.filter((s) => s.includes('checkout_in_progress'))).toEqual([]);
  }, 180_000);

  it('while the payment store is slow, the unlocked cart can be checked out again (and after it)', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 10 });
    const cartId = await cartWith(sku);

    locker = new PgClient({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table payment.payments in access exclusive mode');

    const stale = await checkout(cartId, `r26c-outage-stale-${cartId}`, 400);
    expect(stale.status).toBe(409);
    expect(codeOf(stale)).toBe('price_changed');
    const fixed = await checkout(cartId, `r26c-outage-fixed-${cartId}`, 1000);
    const desc = await stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)).describe();

    // the payment store answers again; the void finishes, the failed workflow closes
    await locker.query('rollback');
    await locker.end();
    locker = undefined;
    await stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId), desc.runId).result();
    const again = await checkout(cartId, `r26c-outage-third-${cartId}`, 1000);
    const rows = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId));
    console.log(
      JSON.stringify({
        stale: stale.status,
        fixed: { status: fixed.status, code: codeOf(fixed) },
        runningWorkflowWhenFixedArrived: desc.status.name,
        afterVoid: { status: again.status, code: codeOf(again) },
        rows: rows.map((r) => ({ key: r.idempotencyKey, status: r.status })),
      }),
    );
    expect(codeOf(fixed)).not.toBe('checkout_in_progress');
    expect(codeOf(again)).not.toBe('checkout_in_progress');
  }, 180_000);
});
