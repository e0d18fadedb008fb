import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { refundWorkflow } from '../../workflows/refund';
import { cancelSignal, refundStatusQuery, retrySignal, type RefundInput } from '../../workflows/messages';
import { recordHistory } from '../helpers/histories';
import { createTimeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';

const input = (refundId: string, restock = false): RefundInput => ({
  refundId,
  orderId: 'ord_1',
  email: 'buyer@example.com',
  amount: { amount: 500, currency: 'USD' },
  lines: [{ sku: 'A', quantity: 1, restock: restock ? 1 : 0 }],
});

describe('refund workflow (time-skipping, fake activities)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  function activities(calls: string[], gatewayFailures: number | 'always') {
    let attempts = 0;
    const record = (name: string) => async () => {
      calls.push(name);
    };
    return {
      claimRefundLines: async (req: { lines: { sku: string; quantity: number; restock: number }[] }) => {
        calls.push('claimRefundLines');
        return { status: 'claimed', lines: req.lines };
      },
      releaseRefundLines: async () => {
        calls.push('releaseRefundLines');
        return { released: [] };
      },
      findRefundAtGateway: async () => {
        calls.push('findRefundAtGateway');
        return { gatewayRef: null };
      },
      refundAtGateway: async () => {
        calls.push('refundAtGateway');
        attempts++;
        if (gatewayFailures === 'always' || attempts <= gatewayFailures) throw new Error('gateway answered 500');
        return { gatewayRef: 're_1' };
      },
      recordRefund: async () => {
        calls.push('recordRefund');
        return { fullyRefunded: false };
      },
      releaseRefund: record('releaseRefund'),
      restockRefund: async () => {
        calls.push('restockRefund');
        return { returned: 1 };
      },
      markOrderRefunded: record('markOrderRefunded'),
      sendRefundEmail: async () => {
        calls.push('sendRefundEmail');
        return { sent: true };
      },
    };
  }

  async function worker(calls: string[], failures: number | 'always') {
    const taskQueue = uniqueTaskQueue('refund');
    const w = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities: activities(calls, failures) });
    return { w, taskQueue };
  }

  it('retries a gateway outage with backoff, then records, restocks, updates the order and emails', async () => {
    const calls: string[] = [];
    const { w, taskQueue } = await worker(calls, 3);
    const outcome = await w.runUntil(async () => {
      const handle = await env.client.workflow.start(refundWorkflow, { taskQueue, workflowId: 'refund-retry', args: [input('rfd_1', true)] });
      const result = await handle.result();
      await recordHistory(handle, 'refundWorkflow', 'claimed-retried-then-succeeded');
      return result;
    });
    expect(outcome).toEqual({ refundId: 'rfd_1', status: 'succeeded' });
    expect(calls).toEqual(['claimRefundLines', 'refundAtGateway', 'refundAtGateway', 'refundAtGateway', 'refundAtGateway', 'recordRefund', 'restockRefund', 'markOrderRefunded', 'sendRefundEmail']);
  });

  it('when the gateway keeps failing past its budget, the refund parks for support; a retry signal completes it', async () => {
    const calls: string[] = [];
    let failing = true;
    const taskQueue = uniqueTaskQueue('refund');
    const acts = {
      ...activities(calls, 0),
      refundAtGateway: async () => {
        calls.push('refundAtGateway');
        if (failing) throw ApplicationFailure.nonRetryable('refund refused', 'refund_rejected');
        return { gatewayRef: 're_2' };
      },
    };
    const w = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities: acts });
    await w.runUntil(async () => {
      const handle = await env.client.workflow.start(refundWorkflow, { taskQueue, workflowId: 'refund-parked', args: [input('rfd_2')] });
      let status = await handle.query(refundStatusQuery);
      while (status.step !== 'needs_attention') status = await handle.query(refundStatusQuery);
      expect(status).toMatchObject({ step: 'needs_attention', waitingFor: expect.any(String), lastError: expect.stringContaining('refund_rejected') });
      expect(calls).not.toContain('releaseRefund');
      failing = false;
      await handle.signal(retrySignal);
      expect(await handle.result()).toEqual({ refundId: 'rfd_2', status: 'succeeded' });
      await recordHistory(handle, 'refundWorkflow', 'claimed-parked-then-retried');
    });
    expect(calls.filter((c) => c === 'refundAtGateway')).toHaveLength(2);
  });

  it('a parked refund cancelled by support asks the gateway, then releases its reservation and line claims and ends failed', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('refund');
    const acts = {
      ...activities(calls, 0),
      refundAtGateway: async () => {
        calls.push('refundAtGateway');
        throw ApplicationFailure.nonRetryable('refund refused', 'refund_rejected');
      },
    };
    const w = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities: acts });
    await w.runUntil(async () => {
      const handle = await env.client.workflow.start(refundWorkflow, { taskQueue, workflowId: 'refund-cancelled', args: [input('rfd_3')] });
      while ((await handle.query(refundStatusQuery)).step !== 'needs_attention') await new Promise((r) => setTimeout(r, 50));
      await handle.signal(cancelSignal, { reason: 'customer got store credit' });
      expect(await handle.result()).toEqual({ refundId: 'rfd_3', status: 'failed', failure: { code: 'refund_cancelled', message: 'customer got store credit' } });
      await recordHistory(handle, 'refundWorkflow', 'claimed-parked-then-cancelled');
    });
    expect(calls).toEqual(['claimRefundLines', 'refundAtGateway', 'findRefundAtGateway', 'releaseRefundLines', 'releaseRefund']);
  });
  it('the gateway refunded but its reply was lost, the refund parked and support cancels: recorded as succeeded, nothing released', async () => {
    const calls: string[] = [];
    const taskQueue = uniqueTaskQueue('refund');
    const acts = {
      ...activities(calls, 0),
      refundAtGateway: async () => {
        calls.push('refundAtGateway');
        throw ApplicationFailure.nonRetryable('refund refused', 'refund_rejected');
      },
      findRefundAtGateway: async () => {
        calls.push('findRefundAtGateway');
        return { gatewayRef: 're_lost' };
      },
    };
    const w = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities: acts });
    await w.runUntil(async () => {
      const handle = await env.client.workflow.start(refundWorkflow, { taskQueue, workflowId: 'refund-lost-then-cancelled', args: [input('rfd_4', true)] });
      while ((await handle.query(refundStatusQuery)).step !== 'needs_attention') await new Promise((r) => setTimeout(r, 50));
      await handle.signal(cancelSignal, { reason: 'customer got store credit' });
      expect(await handle.result()).toEqual({ refundId: 'rfd_4', status: 'succeeded' });
    });
    expect(calls).toEqual(['claimRefundLines', 'refundAtGateway', 'findRefundAtGateway', 'recordRefund', 'restockRefund', 'markOrderRefunded', 'sendRefundEmail']);
  });

  describe('a Temporal cancel request at each step: released or completed, never both, never neither', () => {
    const released = ['releaseRefundLines', 'releaseRefund'];
    const completed = ['recordRefund', 'restockRefund', 'markOrderRefunded', 'sendRefundEmail'];
    // every row has all six columns: jest reads a test function with more parameters than its row as `done`-style
    type Case = [string, string, 'ok' | 'fail', 'found' | 'not found', 'released' | 'completed', string];
    it.each<Case>([
      ['while the lines are being claimed', 'claimRefundLines', 'ok', 'not found', 'released', ''],
      ['while the gateway refund is in flight (it succeeds)', 'refundAtGateway', 'ok', 'not found', 'completed', 'cancel-requested-during-gateway-call'],
      ['while the gateway refund is in flight (it fails)', 'refundAtGateway', 'fail', 'not found', 'released', ''],
      ['while the gateway call fails but had refunded (lost reply)', 'refundAtGateway', 'fail', 'found', 'completed', ''],
      ['while parked for support', 'parked', 'fail', 'not found', 'released', 'cancel-requested-while-parked'],
      ['while recording', 'recordRefund', 'ok', 'not found', 'completed', ''],
      ['while restocking', 'restockRefund', 'ok', 'not found', 'completed', ''],
      ['while updating the order', 'markOrderRefunded', 'ok', 'not found', 'completed', ''],
      ['while emailing', 'sendRefundEmail', 'ok', 'not found', 'completed', ''],
    ])('%s → %s', async (_name, step, gatewayResult, lookup, expected, history) => {
      const calls: string[] = [];
      let reached!: () => void;
      const reachedStep = new Promise<void>((r) => (reached = r));
      let letGo!: () => void;
      const gate = new Promise<void>((r) => (letGo = r));
      const base = activities(calls, gatewayResult === 'fail' ? 'always' : 0);
      const gated = <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
        async (...args: A): Promise<R> => {
          if (name === step) {
            reached();
            await gate;
          }
          return fn(...args);
        };
      const acts = {
        ...base,
        claimRefundLines: gated('claimRefundLines', base.claimRefundLines),
        refundAtGateway: gated('refundAtGateway', async () => {
          calls.push('refundAtGateway');
          if (gatewayResult === 'fail') throw ApplicationFailure.nonRetryable('refund refused', 'refund_rejected');
          return { gatewayRef: 're_5' };
        }),
        findRefundAtGateway: async () => {
          calls.push('findRefundAtGateway');
          return { gatewayRef: lookup === 'found' ? 're_5' : null };
        },
        recordRefund: gated('recordRefund', base.recordRefund),
        restockRefund: gated('restockRefund', base.restockRefund),
        markOrderRefunded: gated('markOrderRefunded', base.markOrderRefunded),
        sendRefundEmail: gated('sendRefundEmail', base.sendRefundEmail),
      };
      const taskQueue = uniqueTaskQueue('refund');
      const w = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: workflowBundle(), activities: acts });
      const outcome = await w.runUntil(async () => {
        const handle = await env.client.workflow.start(refundWorkflow, { taskQueue, workflowId: `refund-cancel-${step}-${gatewayResult}-${lookup}`, args: [input('rfd_c', true)] });
        if (step === 'parked') {
          while ((await handle.query(refundStatusQuery)).step !== 'needs_attention') await new Promise((r) => setTimeout(r, 50));
        } else {
          await reachedStep;
        }
        await handle.cancel();
        await cancelSeenByWorkflow(handle);
        letGo();
        const result = await handle.result();
        if (history) await recordHistory(handle, 'refundWorkflow', history);
        return result;
      });
      const releasedCalls = calls.filter((c) => released.includes(c));
      const completedCalls = calls.filter((c) => completed.includes(c));
      if (expected === 'released') {
        expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'refund_cancelled' } });
        expect(releasedCalls).toEqual(released);
        expect(completedCalls).toEqual([]);
      } else {
        expect(outcome).toEqual({ refundId: 'rfd_c', status: 'succeeded' });
        expect(completedCalls).toEqual(completed);
        expect(releasedCalls).toEqual([]);
      }
      // nothing is released without asking the gateway first
      if (releasedCalls.length > 0) expect(calls.indexOf('findRefundAtGateway')).toBeLessThan(calls.indexOf('releaseRefundLines'));
    });
  });
});

/** Waits until the workflow has run a task after the cancel request (it saw the cancel). */
async function cancelSeenByWorkflow(handle: WorkflowHandle): Promise<void> {
  const { EventType } = temporal.api.enums.v1;
  for (;;) {
    const events = (await handle.fetchHistory()).events ?? [];
    const at = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
    if (at >= 0 && events.slice(at).some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
