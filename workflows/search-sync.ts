import { allHandlersFinished, condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';
import { searchChangedSignal, type SearchSyncInput } from './messages';

const search = proxyActivities<OrderlyActivities>({
  // A tick is one or two bulk requests; a worker that died mid-tick is retried this soon.
  startToCloseTimeout: '15s',
  // Elasticsearch down: keep trying (the outbox holds the changes), at most every 10 s.
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

/** Ticks per run before continue-as-new keeps the history short (input.ticksPerRun overrides). */
const TICKS_PER_RUN = 500;

/**
 * The single writer of one search index alias. Woken by `searchChanged` after each catalog
 * write, and every `stockSyncMs` regardless, it drains the catalog's search outbox and
 * pushes stock changes (so a flash sale becomes at most one index write per sku per tick).
 * It holds no catalog data: every tick reads the stores, so a crash anywhere loses nothing.
 */
export async function searchSyncWorkflow(input: SearchSyncInput): Promise<void> {
  // Drain at once: a change may have been committed while no run was listening.
  let wake = true;
  setHandler(searchChangedSignal, () => {
    wake = true;
  });
  let stockSince = input.stockSince;
  const ticks = input.ticksPerRun ?? TICKS_PER_RUN;
  for (let tick = 0; tick < ticks && !workflowInfo().continueAsNewSuggested; tick++) {
    if (!wake) await condition(() => wake, input.stockSyncMs);
    wake = false;
    const result = await search.syncSearchIndex({ stockSince });
    stockSince = result.stockSince;
    if (result.more) wake = true;
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof searchSyncWorkflow>({ ...input, stockSince });
}

const sweep = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
});

/** Started by the `search-sync-sweep` Schedule: the sync exists and has drained (missed signals, terminated runs). */
export async function searchSyncSweepWorkflow(): Promise<void> {
  await sweep.ensureSearchSync();
}
