import type { ChildProcess } from 'node:child_process';
import { eq } from 'drizzle-orm';
import { holds, stock } from '../../db/schema/inventory';
import { checkouts } from '../../db/schema/order';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { checkoutWorkflowOf } from '../helpers/interleavings';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { uniqueTaskQueue } from '../helpers/temporal';
import { startWorkerProcess } from '../helpers/worker-process';

/**
 * The admission hold (usecases/admission-hold.ts): POST /checkouts holds the cart's stock under
 * the checkout's id before it starts the run, so a buyer who comes after the last unit is
 * answered 409 out_of_stock at once however busy the workers are (here: none polls yet), and the
 * winner's unit is held from the moment it was admitted, not from when its run gets a worker.
 */
describe('POST /checkouts: the admission hold (no worker polls yet)', () => {
  let stack: Stack;
  const workers: ChildProcess[] = [];
  const queue = uniqueTaskQueue('admission-hold');

  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: '30000' } });
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stack?.close();
  });

  async function cartWith(lines: Record<string, number>): Promise<string> {
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    for (const [sku, quantity] of Object.entries(lines)) {
      expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity } })).status).toBe(200);
    }
    return cartId;
  }
  const checkout = (cartId: string, key: string) =>
    stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body: { cartId, email: 'buyer@example.com', paymentToken: 'tok_visa' } });
  const stockOf = async (sku: string) => (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0];
  const workflowOf = (cartId: string) => checkoutWorkflowOf(stack, cartId);

  it('the winner holds the last unit before its run has a worker; a later buyer is refused at once without a run, edits the cart and checks out the rest; both are placed once a worker comes', async () => {
    const scarce = await createProduct(stack.dbs, { priceAmount: 700, onHand: 1 });
    const plenty = await createProduct(stack.dbs, { priceAmount: 300, onHand: 50 });
    const winnerCart = await cartWith({ [scarce]: 1 });
    const loserCart = await cartWith({ [scarce]: 1, [plenty]: 2 });

    const winning = checkout(winnerCart, 'admission-winner');
    // held at admission: no worker has run the winner's checkout
    await eventually(async () => ((await stockOf(scarce))?.reserved === 1 ? true : undefined), 10_000, 'the admission hold');
    const [winnerRow] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, winnerCart));
    expect(winnerRow).toMatchObject({ status: 'pending', runId: null });
    expect((await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, winnerRow!.checkoutId))).map((h) => [h.sku, h.quantity, h.status])).toEqual([[scarce, 1, 'held']]);

    const started = Date.now();
    const lost = await checkout(loserCart, 'admission-loser');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(lost.status).toBe(409);
    expect(lost.body.error).toMatchObject({ code: 'out_of_stock', details: { items: [{ sku: scarce, requested: 1, available: 0 }] } });
    expect(await workflowOf(loserCart)).toBe('none');
    // the replay answers the same; the cart is the customer's: the sold-out line goes, the rest checks out
    expect((await checkout(loserCart, 'admission-loser')).body).toEqual(lost.body);
    expect((await stack.http('DELETE', `/carts/${loserCart}/lines/${scarce}`)).status).toBe(200);
    const rest = checkout(loserCart, 'admission-loser-2');
    await eventually(async () => ((await stockOf(plenty))?.reserved === 2 ? true : undefined), 10_000, 'the second checkout admitted');

    workers.push(startWorkerProcess(queue));
    const [won, placed] = await Promise.all([winning, rest]);
    expect([won.status, won.body.status]).toEqual([201, 'placed']);
    expect([placed.status, placed.body.status]).toEqual([201, 'placed']);
    await Promise.all([winnerCart, loserCart].map((c) => stack.temporal.workflow.getHandle(checkoutWorkflowId(c)).result()));
    expect(await stockOf(scarce)).toMatchObject({ onHand: 0, reserved: 0, sold: 1 });
    expect(await stockOf(plenty)).toMatchObject({ onHand: 48, reserved: 0, sold: 2 });
  }, 120_000);
});
