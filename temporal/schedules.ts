import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { CART_RECOVERY_SWEEP_SCHEDULE_ID, HOLD_SWEEP_SCHEDULE_ID } from './task-queues';

/**
 * Creates the operations schedules if they do not exist yet (safe at every start-up and
 * from several processes at once). Operations pause or trigger them from the Web UI.
 */
export async function ensureSchedules(client: Client, config: Pick<Config, 'temporal' | 'checkout' | 'recovery'>): Promise<void> {
  await createOnce(() =>
    client.schedule.create({
      scheduleId: HOLD_SWEEP_SCHEDULE_ID,
      spec: { intervals: [{ every: `${config.checkout.holdSweepIntervalSeconds}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'sweepExpiredHoldsWorkflow',
        workflowId: HOLD_SWEEP_SCHEDULE_ID,
        taskQueue: config.temporal.taskQueue,
        args: [],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      memo: { purpose: 'release stock holds whose checkout died before releasing them' },
    }),
  );
  await createOnce(() =>
    client.schedule.create({
      scheduleId: CART_RECOVERY_SWEEP_SCHEDULE_ID,
      spec: { intervals: [{ every: `${config.recovery.sweepSeconds}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'cartRecoverySweepWorkflow',
        workflowId: CART_RECOVERY_SWEEP_SCHEDULE_ID,
        taskQueue: config.temporal.taskQueue,
        args: [],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      memo: { purpose: 'cart reminders: make sure every idle cart with an email has its recovery workflow' },
    }),
  );
}

async function createOnce(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
