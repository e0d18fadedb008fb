import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { searchChangedSignal, type SearchSyncInput } from '../workflows/messages';
import { searchSyncWorkflowId } from './workflow-ids';
import { signalWithStartWorkflow } from './workflows';

/**
 * Starts the sync for this alias if it is not running, and wakes it. Safe from anywhere
 * (API after a write, the sweep, worker start-up, reindex): one workflow per alias.
 */
export async function kickSearchSync(client: Client, config: Pick<Config, 'search' | 'temporal'>): Promise<void> {
  const input: SearchSyncInput = { stockSyncMs: config.search.stockSyncMs };
  await signalWithStartWorkflow(client, 'searchSyncWorkflow', {
    workflowId: searchSyncWorkflowId(config.search.alias),
    taskQueue: config.temporal.taskQueue,
    args: [input],
    staticSummary: `Search index sync (alias ${config.search.alias})`,
    staticDetails: `Drains the catalog's search outbox into Elasticsearch; stock changes are pushed at most every ${config.search.stockSyncMs} ms. Runs for ever (continue-as-new); the search-sync-sweep Schedule restarts it.`,
    signal: searchChangedSignal,
    signalArgs: [],
  });
}
