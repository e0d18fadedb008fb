import { ApplicationFailure } from '@temporalio/common';
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
  restockLines: restock ? [{ sku: 'A', quantity: 1 }] : undefined,
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
      await recordHistory(handle, 'refundWorkflow', 'retried-then-succeeded');
      return result;
    });
    expect(outcome).toEqual({ refundId: 'rfd_1', status: 'succeeded' });
    expect(calls).toEqual(['refundAtGateway', 'refundAtGateway', 'refundAtGateway', 'refundAtGateway', 'recordRefund', 'restockRefund', 'markOrderRefunded', 'sendRefundEmail']);
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
      await recordHistory(handle, 'refundWorkflow', 'parked-then-retried');
    });
    expect(calls.filter((c) => c === 'refundAtGateway')).toHaveLength(2);
  });

  it('a parked refund cancelled by support releases its reservation and ends failed', async () => {
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
      await recordHistory(handle, 'refundWorkflow', 'parked-then-cancelled');
    });
    expect(calls).toEqual(['refundAtGateway', 'releaseRefund']);
  });
});
