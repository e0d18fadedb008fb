import { eq } from 'drizzle-orm';
import { holds, stock } from '../../db/schema/inventory';
import { commitHold, HoldMismatch, HoldReleased, holdStock, releaseHold } from '../../db/stores/holds';
import { ensureSchedules } from '../../temporal/schedules';
import { HOLD_SWEEP_SCHEDULE_ID } from '../../temporal/workflow-ids';
import { sweepExpiredHoldsWorkflow } from '../../workflows/hold-sweep';
import { createProduct, startStack, type Stack } from '../helpers/stack';

describe('stock holds and the expired-hold sweep', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true });
  });
  afterAll(async () => {
    await stack?.close();
  });
  const level = async (sku: string) => (await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0];

  it('a hold is all or nothing: one short SKU holds none of the others', async () => {
    const [a, b] = await Promise.all([createProduct(stack.dbs, { onHand: 5 }), createProduct(stack.dbs, { onHand: 1 })]);
    const result = await holdStock(stack.dbs.inventory, `h-${a}`, [{ sku: a, quantity: 2 }, { sku: b, quantity: 2 }], 60);
    expect(result).toEqual({ status: 'out_of_stock', shortages: [{ sku: b, requested: 2, available: 1 }] });
    expect(await level(a)).toMatchObject({ reserved: 0 });
    expect(await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, `h-${a}`))).toEqual([]);
  });

  it('holding twice with one hold id reserves once; release and commit happen once', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 5 });
    const id = `h-${sku}`;
    await Promise.all([holdStock(stack.dbs.inventory, id, [{ sku, quantity: 2 }], 60), holdStock(stack.dbs.inventory, id, [{ sku, quantity: 2 }], 60)]);
    expect(await level(sku)).toMatchObject({ onHand: 5, reserved: 2 });
    expect(await commitHold(stack.dbs.inventory, id)).toBe('committed');
    expect(await commitHold(stack.dbs.inventory, id)).toBe('already_committed');
    expect(await releaseHold(stack.dbs.inventory, id)).toBe(0);
    expect(await level(sku)).toMatchObject({ onHand: 3, reserved: 0, sold: 2 });
  });

  it('a hold given back (its checkout compensated) is refused when asked again under its id: never re-reserved, never reported held', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 5 });
    const id = `given-back-${sku}`;
    await holdStock(stack.dbs.inventory, id, [{ sku, quantity: 2 }], 60);
    expect(await releaseHold(stack.dbs.inventory, id)).toBe(1);
    await expect(holdStock(stack.dbs.inventory, id, [{ sku, quantity: 2 }], 60)).rejects.toBeInstanceOf(HoldReleased);
    expect(await level(sku)).toMatchObject({ onHand: 5, reserved: 0 });
  });

  it('a hold the sweep gave back (expired) is refused too when asked again under its id, even with the stock still there; a committed one still answers held', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 5 });
    const id = `swept-${sku}`;
    await holdStock(stack.dbs.inventory, id, [{ sku, quantity: 2 }], 0);
    expect(await releaseHold(stack.dbs.inventory, id, 'expired')).toBe(1);
    const refused = await holdStock(stack.dbs.inventory, id, [{ sku, quantity: 2 }], 60).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HoldReleased);
    expect((refused as HoldReleased).as).toBe('expired');
    expect(await level(sku)).toMatchObject({ onHand: 5, reserved: 0 });
    const sold = `sold-${sku}`;
    await holdStock(stack.dbs.inventory, sold, [{ sku, quantity: 1 }], 60);
    expect(await commitHold(stack.dbs.inventory, sold)).toBe('committed');
    expect(await holdStock(stack.dbs.inventory, sold, [{ sku, quantity: 1 }], 60)).toMatchObject({ status: 'held' });
    expect(await level(sku)).toMatchObject({ onHand: 4, reserved: 0, sold: 1 });
  });

  it('the admission hold of a checkout no run has claimed replaces its earlier hold — expired, or with other lines — judged afresh in one transaction; a committed one is never replaced', async () => {
    const [sku, other] = await Promise.all([createProduct(stack.dbs, { onHand: 3 }), createProduct(stack.dbs, { onHand: 3 })]);
    const id = `unclaimed-${sku}`;
    const unclaimed = { unclaimed: true };
    await holdStock(stack.dbs.inventory, id, [{ sku, quantity: 2 }], 60);
    // the same lines again: a repeat, nothing more reserved
    expect(await holdStock(stack.dbs.inventory, id, [{ sku, quantity: 2 }], 60, unclaimed)).toMatchObject({ status: 'held' });
    expect(await level(sku)).toMatchObject({ reserved: 2 });
    // the cart changed (unlocked after a fence): the old lines go back, the new ones are held, once, even asked twice at once
    const lines = [{ sku, quantity: 1 }, { sku: other, quantity: 2 }];
    const both = await Promise.all([holdStock(stack.dbs.inventory, id, lines, 60, unclaimed), holdStock(stack.dbs.inventory, id, lines, 60, unclaimed)]);
    expect(both.map((r) => r.status)).toEqual(['held', 'held']);
    expect(await level(sku)).toMatchObject({ onHand: 3, reserved: 1 });
    expect(await level(other)).toMatchObject({ onHand: 3, reserved: 2 });
    const rows = await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, id));
    expect(rows.map((h) => [h.sku, h.quantity, h.status]).sort()).toEqual([[other, 2, 'held'], [sku, 1, 'held']].sort());
    // a run's own repeat with other lines is still refused
    await expect(holdStock(stack.dbs.inventory, id, [{ sku, quantity: 3 }], 60)).rejects.toBeInstanceOf(HoldMismatch);
    // expired by the sweep, then the stock went elsewhere: judged afresh, refused, the expired rows left as they are
    expect(await releaseHold(stack.dbs.inventory, id, 'expired')).toBe(2);
    await holdStock(stack.dbs.inventory, `someone-${sku}`, [{ sku, quantity: 3 }], 60);
    expect(await holdStock(stack.dbs.inventory, id, lines, 60, unclaimed)).toEqual({ status: 'out_of_stock', shortages: [{ sku, requested: 1, available: 0 }] });
    expect((await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, id))).map((h) => h.status)).toEqual(['expired', 'expired']);
    expect(await level(other)).toMatchObject({ reserved: 0 });
    // the stock came back: taken again
    await releaseHold(stack.dbs.inventory, `someone-${sku}`);
    expect(await holdStock(stack.dbs.inventory, id, lines, 60, unclaimed)).toMatchObject({ status: 'held' });
    expect(await level(sku)).toMatchObject({ reserved: 1 });
    expect(await level(other)).toMatchObject({ reserved: 2 });
    // committed: never replaced
    expect(await commitHold(stack.dbs.inventory, id)).toBe('committed');
    await expect(holdStock(stack.dbs.inventory, id, [{ sku, quantity: 1 }], 60, unclaimed)).rejects.toBeInstanceOf(HoldMismatch);
    expect(await holdStock(stack.dbs.inventory, id, lines, 60, unclaimed)).toMatchObject({ status: 'held' });
    expect(await level(sku)).toMatchObject({ onHand: 2, reserved: 0, sold: 1 });
  });

  it('the sweep workflow releases expired holds; a late commit re-takes the stock if it is still there', async () => {
    const [a, b] = await Promise.all([createProduct(stack.dbs, { onHand: 3 }), createProduct(stack.dbs, { onHand: 1 })]);
    await holdStock(stack.dbs.inventory, `late-${a}`, [{ sku: a, quantity: 2 }], 0);
    await holdStock(stack.dbs.inventory, `late-${b}`, [{ sku: b, quantity: 1 }], 0);
    expect(await level(a)).toMatchObject({ reserved: 2 });

    const result = await stack.temporal.workflow.execute(sweepExpiredHoldsWorkflow, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: `sweep-test-${a}`,
    });
    expect(result.released).toBeGreaterThanOrEqual(2);
    expect(await level(a)).toMatchObject({ onHand: 3, reserved: 0 });

    // stock of a is still free: the late commit sells it; b's unit went to another buyer meanwhile
    expect(await commitHold(stack.dbs.inventory, `late-${a}`)).toBe('committed');
    expect(await level(a)).toMatchObject({ onHand: 1, reserved: 0, sold: 2 });
    await holdStock(stack.dbs.inventory, `other-${b}`, [{ sku: b, quantity: 1 }], 60);
    expect(await commitHold(stack.dbs.inventory, `late-${b}`)).toBe('out_of_stock');
    expect(await level(b)).toMatchObject({ onHand: 1, reserved: 1, sold: 0 });
  });

  it('the sweep Schedule exists after start-up, and creating it twice is harmless', async () => {
    await ensureSchedules(stack.temporal, stack.config);
    await ensureSchedules(stack.temporal, stack.config);
    const description = await stack.temporal.schedule.getHandle(HOLD_SWEEP_SCHEDULE_ID).describe();
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'sweepExpiredHoldsWorkflow' });
  });
});
