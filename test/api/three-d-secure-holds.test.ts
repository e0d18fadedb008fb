import { eq } from 'drizzle-orm';
import { orders } from '../../db/schema/order';
import { payments } from '../../db/schema/payment';
import { releaseExpiredHolds, releaseHold } from '../../db/stores/holds';
import { checkoutStatusQuery } from '../../workflows/messages';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { threeDSecureShop } from '../helpers/three-d-secure';

/** Found by the adversarial review of the 3-D Secure change: the stock and the ledger while the payment waits. */
describe('3-D Secure: the hold lasts the wait, a lapsed hold never becomes a charged order, the ledger follows a failed step', () => {
  let stack: Stack;
  beforeAll(async () => {
    // A hold TTL shorter than the 3-D Secure wait: the defaults are equal (15 min each), and the
    // hold is taken before the authorize call, so it always ends before the wait does.
    stack = await startStack({
      worker: true,
      env: { CHECKOUT_WAIT_MS: '15000', PAYMENT_ACTION_TIMEOUT_MINUTES: '1', STOCK_HOLD_TTL_SECONDS: '2' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const { cartWith, checkout, authenticate, confirm, opsOf, stockOf } = threeDSecureShop(() => stack);

  it('a hold that lapsed anyway (released) while the payment waited: the last unit sold to another, the customer passes 3-D Secure → 409 out_of_stock, nothing charged', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1200, onHand: 1 });
    const cartA = await cartWith(sku, 1);
    const a = await checkout(cartA, `r1-a-${Date.now()}`, `r1-a-${Date.now()}@example.com`);
    expect(a.status).toBe(202);
    const checkoutId = a.body.checkoutId as string;
    // the customer takes longer than the hold: the hold sweep (a schedule) releases it
    await new Promise((r) => setTimeout(r, 3000));
    // (what releaseExpiredHolds does to this hold; the suite's DB is shared, so only ours)
    expect(await releaseHold(stack.dbs.inventory, checkoutId, 'expired')).toBe(1);
    // someone else buys the last unit
    const cartB = await cartWith(sku, 1);
    const b = await checkout(cartB, `r1-b-${Date.now()}`, `r1-b-${Date.now()}@example.com`, 'tok_visa');
    expect(b.status).toBe(201);
    // the first customer finishes 3-D Secure well within the 1-minute payment wait
    expect((await authenticate(a.body.nextAction.clientSecret)).body).toMatchObject({ status: 'authorized' });
    const confirmed = await confirm(checkoutId);
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartA}`);
    const step = await eventually(
      async () => {
        const s = await handle.query(checkoutStatusQuery).catch(() => undefined);
        return s && ['needs_attention', 'completed', 'failed'].includes(s.step) ? s : undefined;
      },
      30_000,
      'the checkout settles',
    );
    const captures = await opsOf(checkoutId, 'capture');
    const [order] = await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId));
    // an order placed and charged is one whose stock we can deliver; otherwise no order and no charge
    expect(confirmed.status).toBe(409);
    expect(confirmed.body.error.code).toBe('out_of_stock');
    expect(step.step).toBe('failed');
    expect(captures).toHaveLength(0);
    expect(order).toBeUndefined();
    expect(await opsOf(checkoutId, 'void')).toHaveLength(1);
    expect(await stockOf(sku)).toMatchObject({ onHand: 0, reserved: 0, sold: 1 });
  }, 90_000);

  it('a failed 3-D Secure leaves no "authorized" payment in our ledger (the gateway authorized nothing)', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 3 });
    const cartId = await cartWith(sku, 1);
    const first = await checkout(cartId, `r2-${Date.now()}`, `r2-${Date.now()}@example.com`, 'tok_threeDSecure2Fails');
    expect(first.status).toBe(202);
    const checkoutId = first.body.checkoutId as string;
    await authenticate(first.body.nextAction.clientSecret, 'pass');
    expect((await confirm(checkoutId)).status).toBe(402);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    const rows = await stack.dbs.payment.select().from(payments).where(eq(payments.checkoutId, checkoutId));
    expect(rows.filter((r) => r.status === 'authorized')).toHaveLength(0);
  }, 60_000);

  it('the hold outlives its TTL while the payment waits: the sweep leaves it, the customer passes → placed', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 1 });
    const cartId = await cartWith(sku, 1);
    const first = await checkout(cartId, `keep-${Date.now()}`, `keep-${Date.now()}@example.com`);
    expect(first.status).toBe(202);
    await new Promise((r) => setTimeout(r, 3_000)); // past STOCK_HOLD_TTL_SECONDS=2
    await releaseExpiredHolds(stack.dbs.inventory, 1000);
    expect(await stockOf(sku)).toMatchObject({ reserved: 1 });
    await authenticate(first.body.nextAction.clientSecret);
    expect((await confirm(first.body.checkoutId)).status).toBe(201);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result();
    expect(await stockOf(sku)).toMatchObject({ onHand: 0, reserved: 0, sold: 1 });
  }, 60_000);
});
