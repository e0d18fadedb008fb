// The bench worker's workflows: the product's, plus a bare baseline of the same shape.
import { condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

export * from '../workflows';

const noop = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });
export const baselineDone = defineUpdate<string, [string]>('baselineDone');

/**
 * The ceiling a checkout is compared to: `before` no-op activities, then the update is
 * answered (as the checkout answers once the order exists), then `after` more.
 */
export async function baselineWorkflow(before: number, after: number): Promise<void> {
  let answered = false;
  setHandler(baselineDone, async (id) => {
    await condition(() => answered);
    return id;
  });
  for (let i = 0; i < before; i++) await noop.noop();
  answered = true;
  for (let i = 0; i < after; i++) await noop.noop();
  await condition(() => true);
}
