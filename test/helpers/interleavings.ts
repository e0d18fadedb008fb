import { WorkflowNotFoundError } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { orderLines, orders } from '../../db/schema/order';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import type { Stack } from './stack';

/** A point a step reaches (`reached`) and waits at until the test opens it. */
export interface Gate {
  open: () => void;
  wait: Promise<void>;
  reached: Promise<void>;
  reach: () => void;
}

export function gate(): Gate {
  let open!: () => void;
  let reach!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  const reached = new Promise<void>((r) => (reach = r));
  return { open, wait, reached, reach };
}

/** The API's next fence of a checkout row (abandonCheckout's conditional UPDATE) waits at the gate returned. */
export function holdBackNextFence(stack: Stack): Gate {
  const fence = gate();
  const db = stack.dbs.order as unknown as { update: (...a: unknown[]) => unknown };
  const update = db.update.bind(db);
  let armed = true;
  db.update = (...args: unknown[]) => {
    const built = update(...args) as { set: (...a: unknown[]) => { where: (...a: unknown[]) => { returning: (...a: unknown[]) => Promise<unknown> } } };
    if (!armed || !(new Error().stack ?? '').includes('abandonCheckout')) return built;
    armed = false;
    return {
      set: (...s: unknown[]) => ({
        where: (...w: unknown[]) => ({
          returning: async (...r: unknown[]) => {
            fence.reach();
            await fence.wait;
            return built.set(...s).where(...w).returning(...r);
          },
        }),
      }),
    };
  };
  return fence;
}

/**
 * The stack's next update-with-start (ExecuteMultiOperation) waits at the gate returned; with
 * `unavailable`, that call and every later one then fails UNAVAILABLE (Temporal takes no start).
 */
export function holdBackNextStart(stack: Stack, options: { unavailable?: boolean } = {}): Gate & { starts: () => number } {
  const start = gate();
  const service = stack.temporal.connection.workflowService;
  const execute = service.executeMultiOperation.bind(service);
  let armed = true;
  let starts = 0;
  service.executeMultiOperation = (async (req: Parameters<typeof execute>[0]) => {
    if (armed) {
      armed = false;
      start.reach();
      await start.wait;
    }
    starts += 1;
    if (options.unavailable) throw Object.assign(new Error('14 UNAVAILABLE: frontend unavailable'), { code: 14, details: 'frontend unavailable' });
    return execute(req);
  }) as typeof service.executeMultiOperation;
  return { ...start, starts: () => starts };
}

/** Whether the cart's checkout workflow exists at all (any run, open or closed). */
export async function checkoutWorkflowOf(stack: Stack, cartId: string): Promise<'none' | 'exists'> {
  return stack.temporal.workflow
    .getHandle(checkoutWorkflowId(cartId))
    .describe()
    .then(() => 'exists' as const)
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return 'none' as const;
      throw err;
    });
}

/** The statuses of the orders with a line of `sku`, once none is `placed` any more (paid, or parked): within `ms`. */
export async function settledOrdersOf(stack: Stack, sku: string, ms = 60_000): Promise<{ status: string }[]> {
  const until = Date.now() + ms;
  for (;;) {
    const rows = await stack.dbs.order.select({ status: orders.status }).from(orderLines).innerJoin(orders, eq(orders.id, orderLines.orderId)).where(eq(orderLines.sku, sku));
    if ((rows.length > 0 && rows.every((o) => o.status !== 'placed')) || Date.now() > until) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
}
