import { eq, like } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { holds, stock } from '../../db/schema/inventory';
import { releaseExpiredHolds } from '../../db/stores/holds';
import { localGatewayOperations } from '../../db/schema/payment';
import { orders } from '../../db/schema/order';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review of 9da9b30. holdStock refuses a hold id "whose stock was given back" — but only when
 * its rows say `released`. Stock given back by the expired-hold sweep (`expired`) is given back
 * too, and the release-first compensation then finds nothing to release (the row stays
 * `expired`). A run terminated while its void waits, then the same request replayed: the new run's
 * holdStock reports the expired hold as `held` (nothing re-reserved), re-uses the authorize key
 * (the gateway hands back the still-live authorization), answers 201 and CAPTURES — while the one
 * unit was sold to another customer meanwhile; its commitStock is out_of_stock and the order parks
 * with the customer charged. The commit's own scenario ("terminated mid-compensation, replayed,
 * placed and captured on released stock"), through the sweep instead of the saga.
 */
describe('a swept hold, a run terminated mid-void, the request replayed', () => {
  let stack: Stack;
  let gateway: LocalGateway;

  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      env: {
        CHECKOUT_WAIT_MS: '2500',
        CIRCUIT_FAILURE_THRESHOLD: '1',
        CIRCUIT_WINDOW_MS: '30000',
        CIRCUIT_COOLDOWN_MS: '60000',
        STOCK_HOLD_TTL_SECONDS: '1',
        // the authorize step's first attempt starts 4 s after the hold: the sweep runs meanwhile
        FAULT_PAUSE_BEFORE: 'authorizePayment',
        FAULT_PAUSE_MS: '4000',
      },
    });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  });
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  it('never captures an authorization whose stock the sweep gave back (the unit sold to someone else meanwhile)', async () => {
    const breaker = stack.activityDeps?.breakers?.paymentGateway;
    if (!breaker) throw new Error('no breaker');
    await breaker.reset();
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 1 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

    gateway.setFaults({ mode: 'lost', count: 1, operations: ['authorize'] });
    const request = { headers: { 'Idempotency-Key': 'swept-then-replayed' }, body: { cartId, email: 'swept@example.com', paymentToken: 'tok_visa' } };
    const pending = stack.http('POST', '/checkouts', request);
    // the hold exists, its TTL passes while authorize is about to start, the sweep runs
    const checkoutId = await eventually(
      async () => {
        const rows = await stack.dbs.inventory.select().from(holds).where(eq(holds.sku, sku));
        return rows[0]?.status === 'held' ? rows[0].holdId : undefined;
      },
      10_000,
      'the hold taken',
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await releaseExpiredHolds(stack.dbs.inventory, 100)).toBeGreaterThanOrEqual(1);
    const res = await pending;
    expect(res.status).toBe(202);
    // the authorization reached the gateway (reply lost), the breaker opened, the void waits
    await eventually(
      async () => {
        const ops = await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`));
        return ops.length > 0 && (await breaker.snapshot()).state === 'open' ? true : undefined;
      },
      15_000,
      'authorized at the gateway, breaker open',
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('operator: ended mid-compensation');
    gateway.setFaults(null);
    await breaker.reset();

    // another customer buys the unit the sweep gave back
    const other = await stack.http('POST', '/carts', { body: {} });
    const otherCart = other.body.id as string;
    expect((await stack.http('PUT', `/carts/${otherCart}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const bought = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'the-other-buyer' },
      body: { cartId: otherCart, email: 'other@example.com', paymentToken: 'tok_visa' },
    });
    expect([201, 202]).toContain(bought.status);
    await eventually(async () => ((await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0]?.sold === 1 ? true : undefined), 20_000, 'the other buyer paid');

    // the storefront replays the first request: the row is pending, a new run starts
    const again = await stack.http('POST', '/checkouts', request);
    await new Promise((r) => setTimeout(r, 6_000));
    const ops = (await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`))).map((o) => o.operation);
    const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    const placed = await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId));
    console.log('replay answered', again.status, JSON.stringify(again.body), 'gateway ops', ops, 'stock', level, 'orders', placed.map((o) => o.status));
    await handle.terminate('test cleanup').catch(() => undefined);
    expect(ops).not.toContain('capture');
    expect(again.status).not.toBe(201);
  }, 150_000);
});
