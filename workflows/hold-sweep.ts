import { proxyActivities } from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';
import type { HoldSweepResult } from './messages';

const inventory = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
});

/**
 * Started by a Temporal Schedule: releases stock holds past their expiry whose checkout
 * died before committing or releasing them. A live checkout that finds its hold expired
 * re-reserves at commit time (see db/stores/holds.ts), so the sweep never oversells.
 */
export async function sweepExpiredHoldsWorkflow(): Promise<HoldSweepResult> {
  let released = 0;
  for (;;) {
    const batch = await inventory.releaseExpiredHolds(200);
    released += batch;
    if (batch < 200) return { released };
  }
}
