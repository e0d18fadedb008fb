import { allHandlersFinished, condition, continueAsNew, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';
import { showCartRecoveryProgress } from './ui-details';
import { cartChangedSignal, cartRecoveryStatusQuery, type CartRecoveryInput, type CartRecoveryView } from './messages';

const reminders = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '10m', maximumAttempts: 20 },
});

/** Runs started after this change check the address first (recorded histories without the marker replay as before). */
export const KNOWN_ADDRESS_PATCH = 'cart-reminder-known-address';

/**
 * Runs that reach this change end through the cart's reminder marker (endCartRecovery): cart
 * writes no longer signal every change, so an ending run clears the marker (the next write with
 * lines starts a run again) or, when the cart moved on meanwhile, carries on from its new
 * version. Recorded histories without the marker end as before.
 */
export const STARTED_ONCE_PATCH = 'cart-recovery-started-once';

/** Changes after which the run starts afresh, so a busy cart's history stays small. */
const MAX_CHANGES_PER_RUN = 100;

/**
 * One cart's abandoned-cart reminders: reminder N is due `offsetsMinutes[N]` after the
 * cart's last change. A change (a newer version found at send time, or a signal) restarts
 * the clock; an emptied or checked-out cart, or an opt-out, ends it. Each send is decided
 * by the activity from the stores as they are then, and is idempotent per (cart, version, step).
 * Only a known address is mailed (a prior order, or owned by an account): a run checks that
 * first and ends at once for a stranger's address, holding no timer; each send checks again.
 *
 * Started once per cart (by the first write that leaves an email and lines, or by the sweep),
 * not signalled per write: while the clock is on the first reminder, a later change only means
 * the run wakes early, finds the newer version (`stale`) and sleeps again until that change's
 * due time. Once a reminder is handled the cart's marker says so and the next write signals the
 * run once (cart-scripts.ts RECOVERY_AFTER_WRITE). The signal handler also serves runs and
 * histories from before (a signal per write) and the sweep.
 */
export async function cartRecoveryWorkflow(input: CartRecoveryInput): Promise<CartRecoveryView> {
  const { cartId, offsetsMinutes, discountCode, ownedByAccount } = input;
  let version = input.version;
  let updatedAt = input.updatedAt;
  let step = input.doneSteps ?? 0;
  let changes = 0;
  const view: CartRecoveryView = { cartId, version, sent: 0 };

  const restart = (next: { version: number; updatedAt: number }) => {
    version = next.version;
    updatedAt = next.updatedAt;
    step = 0;
    changes++;
  };
  setHandler(cartRecoveryStatusQuery, () => view);
  setHandler(cartChangedSignal, (change) => {
    if (change.version > version) restart(change);
  });

  /**
   * The run is about to end: true when it does. Past STARTED_ONCE_PATCH it first clears the
   * cart's marker (`off`: marks the address as not to be reminded), unless the cart moved on
   * since the clock's version — then the clock restarts from there and the run carries on.
   */
  const ends = async (off: boolean): Promise<boolean> => {
    if (!patched(STARTED_ONCE_PATCH)) return true;
    const seen = version;
    const end = await reminders.endCartRecovery({ cartId, version, off });
    if (off) return true;
    if (end.status === 'stale' && end.version > version) restart(end);
    return version === seen || step >= offsetsMinutes.length;
  };

  if (patched(KNOWN_ADDRESS_PATCH) && !(await reminders.checkReminderAddress({ cartId, ownedByAccount })).mayRemind) {
    view.stopped = 'unknown_address';
    showCartRecoveryProgress(view);
    await ends(true);
    await condition(allHandlersFinished);
    return view;
  }

  for (;;) {
    while (step < offsetsMinutes.length) {
      if (changes >= MAX_CHANGES_PER_RUN || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        return continueAsNew<typeof cartRecoveryWorkflow>({ ...input, version, updatedAt, doneSteps: step });
      }
      const seen = version;
      const dueAt = updatedAt + (offsetsMinutes[step] ?? 0) * 60_000;
      Object.assign(view, { version, nextStep: step, nextAt: new Date(dueAt).toISOString() });
      showCartRecoveryProgress(view);
      const wait = dueAt - Date.now();
      if (wait > 0 && (await condition(() => version !== seen, wait))) continue;

      const last = step === offsetsMinutes.length - 1;
      const result = await reminders.sendCartReminder({ cartId, version, step, discountCode: last ? discountCode : undefined, ownedByAccount });
      if (result.status === 'stop') {
        view.stopped = result.reason;
        break;
      }
      if (result.status === 'stale') {
        if (version === seen) restart(result);
        continue;
      }
      if (result.status === 'sent') view.sent++;
      if (version === seen) step++;
    }
    if (await ends(view.stopped === 'opted_out' || view.stopped === 'unknown_address')) break;
    view.stopped = undefined;
  }
  view.nextStep = undefined;
  view.nextAt = undefined;
  showCartRecoveryProgress(view);
  await condition(allHandlersFinished);
  return view;
}

/**
 * The sweep goes through its window page by page (at most CART_RECOVERY_SWEEP_BATCH runs started,
 * cursors kept between sweeps) with a heartbeat after each page: a stuck sweep is retried within a
 * minute, a long one is not cut at 30 s (2 min: within a worker's drain on SIGTERM; a sweep cut
 * there is retried and goes on from its kept cursors). The Schedule skips a sweep while one runs
 * (overlap SKIP).
 */
const sweep = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** Started by the `cart-recovery-sweep` Schedule: every idle cart gets its recovery workflow. */
export async function cartRecoverySweepWorkflow(): Promise<{ carts: number }> {
  return { carts: await sweep.ensureCartRecoveries() };
}
