// The bench worker's workflows: the product's, plus a bare baseline of the same shape.
import { condition, defineUpdate, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';

export * from '../workflows';

const noop = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });
const localNoop = proxyLocalActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });
export const baselineDone = defineUpdate<string, [string]>('baselineDone');

/**
 * The ceiling a checkout is compared to: `before` no-op activities, then the update is
 * answered (as the checkout answers once the order exists), then `after` more. With
 * `localBefore`, the steps before the answer are local activities, as the checkout's are;
 * with `localAfter`, the steps after the first one after the answer too (as the checkout's
 * after its capture since `checkout-local-steps-after-capture`).
 */
export async function baselineWorkflow(before: number, after: number, localBefore = false, localAfter = false): Promise<void> {
  let answered = false;
  setHandler(baselineDone, async (id) => {
    await condition(() => answered);
    return id;
  });
  for (let i = 0; i < before; i++) await (localBefore ? localNoop : noop).noop();
  answered = true;
  // the first step after the answer (the capture) stays regular: the local ones run in the task its completion starts
  for (let i = 0; i < after; i++) await (localAfter && i > 0 ? localNoop : noop).noop();
  await condition(() => true);
}
