import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';

const TEMPORAL_CLI = path.resolve(__dirname, '../../.tools/venv/bin/temporal');

/**
 * With RECORD_HISTORIES=1, saves a finished workflow's history under test/histories as
 * `<workflowType>--<name>.json` (the Temporal CLI's JSON export) for the replay test.
 * Without it, does nothing.
 */
export async function recordHistory(handle: WorkflowHandle, workflowType: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const { runId } = await handle.describe();
  const json = execFileSync(
    TEMPORAL_CLI,
    ['workflow', 'show', '--address', process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233', '--workflow-id', handle.workflowId, '--run-id', runId, '--output', 'json'],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  fs.writeFileSync(path.resolve(__dirname, '../histories', `${workflowType}--${name}.json`), json);
}
