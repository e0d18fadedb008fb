import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../helpers/temporal';

/**
 * Determinism guard: histories recorded from the real server (test/histories, written by
 * `RECORD_HISTORIES=1 npm test`) must replay against today's workflow code. A change
 * that alters the commands an old history expects fails here; use `patched()` instead.
 */
const dir = path.resolve(__dirname, '../histories');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('recorded workflow histories replay against the current code', () => {
  it('there are recorded histories for every workflow type', () => {
    const types = new Set(files.map((f) => f.split('--')[0]));
    expect([...types].sort()).toEqual(expect.arrayContaining(['cartRecoveryWorkflow', 'checkoutWorkflow', 'refundWorkflow', 'searchSyncWorkflow', 'searchSyncSweepWorkflow', 'recommendationRecomputeWorkflow']));
  });

  it.each(files)('%s replays without a determinism error', async (file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    await expect(Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, file)).resolves.toBeUndefined();
  });
});
