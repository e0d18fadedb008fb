import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * With RECORD_HISTORIES=1, saves a finished workflow's history under test/histories as
 * `<workflowType>--<name>.json` for the replay test. Without it, does nothing.
 */
export async function recordHistory(handle: WorkflowHandle, workflowType: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  fs.writeFileSync(path.resolve(__dirname, '../histories', `${workflowType}--${name}.json`), historyToJSON(history));
}
