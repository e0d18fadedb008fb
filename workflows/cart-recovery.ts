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

/** Changes after which the run starts afresh, so a busy cart's history stays small. */
const MAX_CHANGES_PER_RUN = 100;

/**
 * One cart's abandoned-cart reminders: reminder N is due `offsetsMinutes[N]` after the
 * cart's last change. A change (signal, or a newer version found at send time) restarts
 * the clock; an emptied or checked-out cart, or an opt-out, ends it. Each send is decided
 * by the activity from the stores as they are then, and is idempotent per (cart, version, step).
 * Only a known address is mailed (a prior order, or owned by an account): a run checks that
 * first and ends at once for a stranger's address, holding no timer; each send checks again.
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

  if (patched(KNOWN_ADDRESS_PATCH) && !(await reminders.checkReminderAddress({ cartId, ownedByAccount })).mayRemind) {
    view.stopped = 'unknown_address';
    showCartRecoveryProgress(view);
    await condition(allHandlersFinished);
    return view;
  }

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
  view.nextStep = undefined;
  view.nextAt = undefined;
  showCartRecoveryProgress(view);
  await condition(allHandlersFinished);
  return view;
}

/** Started by the `cart-recovery-sweep` Schedule: every idle cart gets its recovery workflow. */
export async function cartRecoverySweepWorkflow(): Promise<{ carts: number }> {
  return { carts: await reminders.ensureCartRecoveries() };
}
