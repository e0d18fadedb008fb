import { eq } from 'drizzle-orm';
import { holds } from '../../db/schema/inventory';
import { checkouts } from '../../db/schema/order';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { threeDSecureShop } from '../helpers/three-d-secure';

/**
 * Review r18f of 34fc6d0 (sold-out pre-check). The pre-check is skipped only while the cart's
 * Redis lock is live (`lockedUntil > now`), but the lock is set once, at POST time, for
 * STOCK_HOLD_TTL_SECONDS, and never extended, while the workflow keeps its stock hold alive for
 * the whole 3-D Secure wait (keepStockHeld: deadline + 5 min, re-extended for every
 * 'processing' round). Once the lock lapses, a second POST /checkouts of the same cart (a new
 * Idempotency-Key: the customer reloaded the page) reads the cart's OWN reservation as someone
 * else's, and is answered — and recorded, forever, under that key — 409 out_of_stock "not enough
 * stock for some items; nothing was charged", while the cart's live checkout holds that very
 * stock and goes on to charge the customer. Before the change the same request got 409
 * checkout_in_progress (the update is refused by the running workflow's validator), which the
 * commit claims is kept: "a cart held by its own live checkout keeps checkout_in_progress".
 *
 * Shortened here with STOCK_HOLD_TTL_SECONDS=2; with the defaults (15 min each) it happens when
 * the customer takes the whole wait, or whenever the processor answers 'processing'.
 */
describe('sold-out pre-check: a cart whose own live checkout still holds the stock, after the cart lock lapsed', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      env: { CHECKOUT_WAIT_MS: '15000', PAYMENT_ACTION_TIMEOUT_MINUTES: '1', STOCK_HOLD_TTL_SECONDS: '2' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const { cartWith, checkout, authenticate, confirm, stockOf } = threeDSecureShop(() => stack);

  it('a second key of the same cart is told checkout_in_progress, not a permanent out_of_stock "nothing was charged" while its own checkout charges', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1500, onHand: 1 });
    const cartId = await cartWith(sku, 1);
    const email = `r18f-${Date.now()}@example.com`;
    const first = await checkout(cartId, `r18f-a-${Date.now()}`, email);
    expect(first.status).toBe(202);
    const checkoutId = first.body.checkoutId as string;
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    try {
      // the workflow keeps its hold for the 3-D Secure wait (far beyond the 2 s TTL)...
      await eventually(
        async () => {
          const [h] = await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId));
          return h && h.status === 'held' && h.expiresAt.getTime() > Date.now() + 30_000 ? h : undefined;
        },
        10_000,
        'the hold kept for the wait',
      );
      // ...while the cart's lock (set once, for STOCK_HOLD_TTL_SECONDS) lapses
      await new Promise((r) => setTimeout(r, 2500));
      expect(await stockOf(sku)).toMatchObject({ onHand: 1, reserved: 1 });

      // the customer reloads and checks out again (a new key, any card)
      const second = await checkout(cartId, `r18f-b-${Date.now()}`, email, 'tok_visa');
      const secondAnswer = { status: second.status, code: second.body?.error?.code, message: second.body?.error?.message };

      // the first checkout completes: the customer is charged and gets the order
      expect((await authenticate(first.body.nextAction.clientSecret)).body).toMatchObject({ status: 'authorized' });
      const confirmed = await confirm(checkoutId);
      expect(confirmed.status).toBe(201);
      await handle.result();
      const rows = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId));
      const placed = rows.find((r) => r.checkoutId === checkoutId);
      expect(placed?.orderId).toBeTruthy();

      // What the second request was told. Before 34fc6d0: 409 checkout_in_progress. Now:
      // 409 out_of_stock "not enough stock ...; nothing was charged", recorded failed under
      // its key, about stock this very cart holds and was charged for.
      expect(secondAnswer).toMatchObject({ status: 409, code: 'checkout_in_progress' });
    } finally {
      await handle.cancel().catch(() => undefined);
      await handle.result().catch(() => undefined);
    }
  }, 90_000);
});
