import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { CART_RECOVERY_SWEEP_SCHEDULE_ID, HOLD_SWEEP_SCHEDULE_ID, RECOMMENDATIONS_RECOMPUTE_SCHEDULE_ID, RECONCILE_SCHEDULE_ID, SEARCH_SYNC_SWEEP_SCHEDULE_ID } from './workflow-ids';
import type { WorkflowName } from './workflows';

/**
 * Creates the operations schedules if they do not exist yet (safe at every start-up and
 * from several processes at once). Operations pause or trigger them from the Web UI.
 */
export async function ensureSchedules(client: Client, config: Pick<Config, 'temporal' | 'checkout' | 'recovery' | 'search' | 'reconcile' | 'recommendations'>): Promise<void> {
  const every = async (scheduleId: string, workflowType: WorkflowName, seconds: number, purpose: string) => {
    try {
      await client.schedule.create({
        scheduleId,
        spec: { intervals: [{ every: `${seconds}s` }] },
        action: {
          type: 'startWorkflow',
          workflowType,
          workflowId: scheduleId,
          taskQueue: config.temporal.taskQueue,
          args: [],
          // What each run is for, in the Web UI (a schedule created before this keeps its action).
          staticSummary: `${scheduleId}: every ${seconds}s`,
          staticDetails: purpose,
        },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
        memo: { purpose },
      });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
  };
  await every(
    HOLD_SWEEP_SCHEDULE_ID,
    'sweepExpiredHoldsWorkflow',
    config.checkout.holdSweepIntervalSeconds,
    'release stock holds whose checkout died before releasing them',
  );
  await every(
    CART_RECOVERY_SWEEP_SCHEDULE_ID,
    'cartRecoverySweepWorkflow',
    config.recovery.sweepSeconds,
    'cart reminders: make sure every idle cart with an email has its recovery workflow',
  );
  await every(
    SEARCH_SYNC_SWEEP_SCHEDULE_ID,
    'searchSyncSweepWorkflow',
    config.search.sweepSeconds,
    'search index: make sure the sync workflow runs and drains the catalog outbox',
  );
  await every(
    RECONCILE_SCHEDULE_ID,
    'reconcileWorkflow',
    config.reconcile.intervalSeconds,
    'reconciliation: gateway vs payments, orders and stock holds; repairs what is safe, parks the rest for support',
  );
  await every(
    RECOMMENDATIONS_RECOMPUTE_SCHEDULE_ID,
    'recommendationRecomputeWorkflow',
    config.recommendations.recomputeSeconds,
    'recommendations: rebuild the "also bought" scores and category bestsellers from the paid orders, then swap them in',
  );
}
