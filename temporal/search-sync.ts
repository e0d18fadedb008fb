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
    signal: searchChangedSignal,
    signalArgs: [],
  });
}
