import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { searchSyncSweepWorkflow, searchSyncWorkflow } from '../../workflows/search-sync';
import type { SearchSyncResult } from '../../activities/search';
import { searchChangedSignal } from '../../workflows/messages';
import { recordHistory } from '../helpers/histories';
import { createTimeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';

const HOUR = 3_600_000;

/**
 * The sync's loop on the time-skipping server, with a scripted activity: drains at start,
 * wakes on the signal, repeats at once while a batch was full, ticks on its own every
 * stockSyncMs, threads the stock watermark through retries and continue-as-new.
 */
describe('searchSyncWorkflow (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('drains at once, wakes on signals, repeats while batches are full, ticks on its own, keeps the watermark', async () => {
    const taskQueue = uniqueTaskQueue('search-sync');
    const calls: (string | undefined)[] = [];
    let failNext = false;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: {
        async syncSearchIndex(req: { stockSince?: string }): Promise<SearchSyncResult> {
          if (failNext) {
            failNext = false;
            throw ApplicationFailure.retryable('search engine down');
          }
          calls.push(req.stockSince);
          const n = calls.length;
          // calls 1-2 find full batches; later calls return a new watermark each
          return { products: 500, stock: 0, stale: 0, more: n <= 2, stockSince: `w${n}` };
        },
        async ensureSearchSync() {},
      },
    });
    const settle = async (count: number) => {
      const deadline = Date.now() + 10_000;
      while (calls.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
    };

    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(searchSyncWorkflow, {
        taskQueue,
        workflowId: `search-sync-test-${taskQueue}`,
        args: [{ stockSyncMs: HOUR, ticksPerRun: 6 }],
      });
      const firstRun = handle.firstExecutionRunId;
      // start drains at once, and the two full batches are followed at once (no clock moved)
      await settle(3);
      expect(calls).toEqual([undefined, 'w1', 'w2']);

      // a signal wakes it before the hour is up; a failed attempt is retried with the same watermark
      failNext = true;
      await handle.signal(searchChangedSignal);
      await settle(4);
      expect(calls).toEqual([undefined, 'w1', 'w2', 'w3']);

      // no signal: it ticks on its own after stockSyncMs
      await env.sleep(HOUR + 1_000);
      await settle(5);
      expect(calls.slice(4)).toEqual(['w4']);

      // tick 6 ends the run: continue-as-new carries the watermark into the next run
      await handle.signal(searchChangedSignal);
      await settle(7);
      expect(calls.slice(5, 7)).toEqual(['w5', 'w6']);
      const latest = await env.client.workflow.getHandle(handle.workflowId).describe();
      expect(latest.runId).not.toBe(firstRun);
      expect(latest.status.name).toBe('RUNNING');

      await recordHistory(env.client.workflow.getHandle(handle.workflowId, firstRun), 'searchSyncWorkflow', 'ticks-then-continue-as-new');
      await handle.terminate('test over');
    });
  }, 60_000);

  it('the sweep (run by its Schedule) makes sure the sync runs', async () => {
    const taskQueue = uniqueTaskQueue('search-sweep');
    let ensured = 0;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: {
        async syncSearchIndex(): Promise<SearchSyncResult> {
          throw new Error('not called by the sweep');
        },
        async ensureSearchSync() {
          ensured++;
        },
      },
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(searchSyncSweepWorkflow, { taskQueue, workflowId: `search-sweep-${taskQueue}` });
      await handle.result();
      expect(ensured).toBe(1);
      await recordHistory(handle, 'searchSyncSweepWorkflow', 'ensured');
    });
  });
});
