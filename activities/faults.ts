import { Context } from '@temporalio/activity';
import type { Config } from '../config';

type AnyActivity = (...args: never[]) => Promise<unknown>;

/**
 * Test-only fault hooks: with FAULT_PAUSE_BEFORE=<activity> the first attempt of that
 * activity waits FAULT_PAUSE_MS before running, so a kill test can land between steps; with
 * FAULT_PAUSE_AFTER=<activity> it waits after its work is done (committed), before it returns,
 * so a kill loses only the reply (for a local step: the workflow task that would record it).
 */
export function withFaultHooks<T extends Record<string, AnyActivity>>(activities: T, faults: Config['faults']): T {
  const { pauseBefore, pauseAfter, pauseMs } = faults;
  if (pauseMs <= 0) return activities;
  let hooked: T = activities;
  if (pauseBefore && pauseBefore in activities) {
    const original = activities[pauseBefore] as AnyActivity;
    const paused = async (...args: never[]) => {
      if (Context.current().info.attempt === 1) await Context.current().sleep(pauseMs);
      return original(...args);
    };
    hooked = { ...hooked, [pauseBefore]: paused };
  }
  if (pauseAfter && pauseAfter in activities) {
    const original = hooked[pauseAfter] as AnyActivity;
    const paused = async (...args: never[]) => {
      const result = await original(...args);
      if (Context.current().info.attempt === 1) await Context.current().sleep(pauseMs);
      return result;
    };
    hooked = { ...hooked, [pauseAfter]: paused };
  }
  return hooked;
}
