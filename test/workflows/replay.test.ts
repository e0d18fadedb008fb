import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { testDataConverter, workflowBundle } from '../helpers/temporal';
import { readableText } from '../helpers/temporal-cli';

/**
 * Determinism guard: histories recorded from the real server (test/histories, written by
 * `RECORD_HISTORIES=1 npm test`) must replay against today's workflow code. A change
 * that alters the commands an old history expects fails here; use `patched()` instead.
 * Replayed with the payload codec every worker has (temporal/codec.ts): histories from before it
 * are plain and pass through it; `*--encrypted-*` ones were recorded with it (the dev key).
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
    await expect(Worker.runReplayHistory({ workflowBundle: workflowBundle(), dataConverter: testDataConverter() }, history, file)).resolves.toBeUndefined();
  });

  it('there is a history recorded with encrypted payloads; it holds no plain email or token, and replays only with the codec', async () => {
    const encrypted = files.filter((f) => f.includes('--encrypted-'));
    expect(encrypted.length).toBeGreaterThan(0);
    for (const file of encrypted) {
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      // the checkout's input (email, address, token) is ciphertext; no email anywhere, also base64-decoded
      const started = (JSON.parse(text) as { events: { workflowExecutionStartedEventAttributes?: { input: { payloads: { metadata: { encoding: string } }[] } } }[] }).events[0];
      expect(started?.workflowExecutionStartedEventAttributes?.input.payloads.map((p) => Buffer.from(p.metadata.encoding, 'base64').toString())).toEqual(['binary/encrypted']);
      expect(readableText(text)).not.toMatch(/@example\.com/);
      const history = historyFromJSON(JSON.parse(text));
      // without the codec the workflow cannot read its own input: the replay fails
      await expect(Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, file)).rejects.toThrow();
    }
  });
});
