import { eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import type { PricedCart } from '../../domain/cart';
import { stock } from '../../db/schema/inventory';
import { getFrozenCart } from '../../db/stores/checkouts';
import { holdStock } from '../../db/stores/holds';
import { createOrder, transitionOrder } from '../../db/stores/orders';
import { recordHistory } from '../helpers/histories';
import { caughtMail } from '../helpers/mail';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * The steps after a capture as one activity (activities/checkout-finish.ts): a re-run of it — a
 * retry after an outage in a later step, a worker lost mid-way — must change nothing that the
 * first run did or that happened since (review r18t's findings on merged post-answer steps).
 */
describe('finishPaidCheckout: the steps after the capture in one idempotent activity (real Temporal, Postgres, Redis, SMTP)', () => {
  let stack: Stack;
  let finish: ReturnType<typeof createActivities>['finishPaidCheckout'];
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
    finish = createActivities(stack.activityDeps as NonNullable<Stack['activityDeps']>).finishPaidCheckout;
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function cartWith(lines: [string, number][]): Promise<string> {
    const cart = await stack.http('POST', '/carts', { body: {} });
    for (const [sku, quantity] of lines) {
      expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity } })).status).toBe(200);
    }
    return cart.body.id as string;
  }

  /** A checkout run to its end through the API: what a re-run of its last activity gets. */
  async function paidCheckout(sku: string, quantity: number, email: string) {
    const cartId = await cartWith([[sku, quantity]]);
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': `finish-${cartId}` }, body: { cartId, email, paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    await handle.result();
    const checkoutId = res.body.checkoutId as string;
    const orderId = res.body.orderId as string;
    const cart = (await getFrozenCart(stack.dbs.order, checkoutId)) as PricedCart;
    return { cartId, checkoutId, orderId, cart, handle, rerun: () => finish({ checkoutId, orderId, cartId, email, cart }) };
  }
  const stockOf = async (sku: string) => (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0];
  const mailsTo = async (email: string) => (await caughtMail()).filter((m) => m.to.includes(email));

  it('a checkout runs its capture and the steps after it as one activity: paid, stock sold, cart empty, one confirmation', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1200, onHand: 5 });
    const email = `finish-one-${Date.now()}@example.com`;
    const { cartId, orderId, handle } = await paidCheckout(sku, 2, email);
    // (finish-in-one-activity-placed.json: the same checkout recorded before checkout-capture-and-finish)
    await recordHistory(handle, 'checkoutWorkflow', 'capture-and-finish-placed');
    const history = await handle.fetchHistory();
    const activities = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
    expect(activities).toEqual(['captureAndFinishPaidCheckout']);
    // one patch marker: checkout-capture-and-finish implies the earlier ones
    const markers = (history.events ?? []).flatMap((e) => (e.markerRecordedEventAttributes?.markerName === 'core_patch' ? [e] : []));
    expect(markers).toHaveLength(1);
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('paid');
    expect(await stockOf(sku)).toMatchObject({ onHand: 3, reserved: 0, sold: 2 });
    expect((await stack.http('GET', `/carts/${cartId}`)).body.lines).toEqual([]);
    expect(await mailsTo(email)).toHaveLength(1);
  });

  it('a re-run after the customer refilled the cart leaves the refilled cart alone, sells nothing twice and sends no second email', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 10 });
    const other = await createProduct(stack.dbs, { priceAmount: 300, onHand: 10 });
    const email = `finish-refill-${Date.now()}@example.com`;
    const first = await paidCheckout(sku, 1, email);
    // the customer shops on with the same cart
    expect((await stack.http('PUT', `/carts/${first.cartId}/lines/${sku}`, { body: { quantity: 3 } })).status).toBe(200);
    expect((await stack.http('PUT', `/carts/${first.cartId}/lines/${other}`, { body: { quantity: 1 } })).status).toBe(200);

    await expect(first.rerun()).resolves.toMatchObject({ markedPaid: false });

    const lines = (await stack.http('GET', `/carts/${first.cartId}`)).body.lines as { sku: string; quantity: number }[];
    expect(lines.map((l) => [l.sku, l.quantity]).sort()).toEqual([[sku, 3], [other, 1]].sort());
    expect(await stockOf(sku)).toMatchObject({ onHand: 9, reserved: 0, sold: 1 });
    expect(await mailsTo(email)).toHaveLength(1);
  });

  it('a re-run after the order was refunded is done: the order stays refunded and the activity does not fail (no retry forever)', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 900, onHand: 10 });
    const email = `finish-refunded-${Date.now()}@example.com`;
    const first = await paidCheckout(sku, 1, email);
    expect(await transitionOrder(stack.dbs.order, first.orderId, 'refunded', 'refunded by support')).toBe(true);

    await expect(first.rerun()).resolves.toMatchObject({ markedPaid: false });

    expect((await stack.http('GET', `/orders/${first.orderId}`)).body.status).toBe('refunded');
    expect(await stockOf(sku)).toMatchObject({ sold: 1 });
  });

  it('a re-run after the paid order was cancelled is done; an order cancelled before it was paid is refused for support (non-retryable), not marked paid', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 800, onHand: 10 });
    const email = `finish-cancelled-${Date.now()}@example.com`;
    const first = await paidCheckout(sku, 1, email);
    // paid, then parked and cancelled by support (paid -> needs_attention -> cancelled)
    await transitionOrder(stack.dbs.order, first.orderId, 'needs_attention', 'support');
    await transitionOrder(stack.dbs.order, first.orderId, 'cancelled', 'support');
    await expect(first.rerun()).resolves.toMatchObject({ markedPaid: false });
    expect((await stack.http('GET', `/orders/${first.orderId}`)).body.status).toBe('cancelled');

    // never paid: placed, then cancelled
    const checkoutId = `chk_never_paid_${Date.now()}`;
    expect((await holdStock(stack.dbs.inventory, checkoutId, [{ sku, quantity: 1 }], 600)).status).toBe('held');
    const orderId = await createOrder(stack.dbs.order, {
      checkoutId,
      cartId: first.cartId,
      email,
      currency: 'USD',
      totalAmount: 800,
      lines: [{ sku, name: 'x', quantity: 1, unitPrice: 800, lineTotal: 800 }],
    });
    await transitionOrder(stack.dbs.order, orderId, 'cancelled', 'support');
    await expect(finish({ checkoutId, orderId, cartId: first.cartId, email, cart: first.cart })).rejects.toMatchObject({ type: 'order_not_payable', nonRetryable: true });
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('cancelled');
  });

  it("after the checkout's lock lapsed and the customer added a line, only the checkout's own lines are taken out", async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 400, onHand: 10 });
    const other = await createProduct(stack.dbs, { priceAmount: 500, onHand: 10 });
    const cartId = await cartWith([[sku, 2]]);
    const carts = (stack.activityDeps as NonNullable<Stack['activityDeps']>).carts;
    // a checkout's lock that lapsed (a long 3-D Secure wait): cart writes are accepted again
    expect(await carts.lock(cartId, 'chk_lapsed', Date.now() - 1)).toBe('chk_lapsed');
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${other}`, { body: { quantity: 1 } })).status).toBe(200);

    const after = await carts.clearCheckout(cartId, 'chk_lapsed', [{ sku, quantity: 2 }]);
    expect(after?.lines).toEqual([{ sku: other, quantity: 1 }]);
    expect(after?.checkoutId).toBeUndefined();
    // another checkout's clear (or a second one) changes nothing
    expect((await carts.clearCheckout(cartId, 'chk_lapsed', [{ sku: other, quantity: 1 }]))?.lines).toEqual([{ sku: other, quantity: 1 }]);
  });
});
