import { Context } from '@temporalio/activity';
import type { Config } from '../config';

type AnyActivity = (...args: never[]) => Promise<unknown>;

/**
 * Test-only fault hook: with FAULT_PAUSE_BEFORE=<activity> the first attempt of that
 * activity waits FAULT_PAUSE_MS before running, so a kill test can land between steps.
 */
export function withFaultHooks<T extends Record<string, AnyActivity>>(activities: T, faults: Config['faults']): T {
  const { pauseBefore, pauseMs } = faults;
  if (!pauseBefore || pauseMs <= 0 || !(pauseBefore in activities)) return activities;
  const original = activities[pauseBefore] as AnyActivity;
  const paused = async (...args: never[]) => {
    if (Context.current().info.attempt === 1) await Context.current().sleep(pauseMs);
    return original(...args);
  };
  return { ...activities, [pauseBefore]: paused };
}
