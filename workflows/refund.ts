import { ApplicationFailure, ActivityFailure, condition, log, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';
import { RefundStatusKey } from '../temporal/search-attributes';
import { cancelSignal, refundStatusQuery, retrySignal, type RefundInput, type RefundOutcome, type RefundStatusView, type RefundStep } from './messages';

/** The gateway call: transient errors retried with backoff; past the budget, a human decides. */
const gateway = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 6 },
});
/** Store writes after the money moved: they must eventually happen. */
const stores = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});
const followUp = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
});

function reasonOf(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? `${cause.type ?? 'error'}: ${cause.message}` : String(err);
}

/**
 * One refund request. Its amount was reserved against the capture when the API opened it
 * (db/stores/payments.ts openRefund). The gateway refund is retried; when retries cannot fix
 * it, the refund is parked for support (`retry` or `cancel` signal), never silently dropped.
 */
export async function refundWorkflow(input: RefundInput): Promise<RefundOutcome> {
  const { refundId, orderId } = input;
  const view: RefundStatusView = { refundId, orderId, step: 'refunding' };
  let retryRequested = false;
  let cancelReason: string | undefined;
  const enter = (step: RefundStep) => {
    view.step = step;
  };

  setHandler(refundStatusQuery, () => view);
  setHandler(retrySignal, () => {
    retryRequested = true;
  });
  setHandler(cancelSignal, ({ reason }) => {
    cancelReason = reason || 'cancelled by support';
  });

  let gatewayRef: string | undefined;
  while (!gatewayRef) {
    enter('refunding');
    try {
      gatewayRef = (await gateway.refundAtGateway(refundId)).gatewayRef;
    } catch (err) {
      view.lastError = reasonOf(err);
      enter('needs_attention');
      view.waitingFor = 'a retry or cancel signal from support';
      upsertSearchAttributes([{ key: RefundStatusKey, value: 'needs_attention' }]);
      log.warn('refund parked for support', { refundId, error: view.lastError });
      await condition(() => retryRequested || cancelReason !== undefined);
      view.waitingFor = undefined;
      if (cancelReason !== undefined) {
        const failure = { code: 'refund_cancelled', message: cancelReason };
        await stores.releaseRefund({ refundId, failure });
        upsertSearchAttributes([{ key: RefundStatusKey, value: 'failed' }]);
        enter('failed');
        return { refundId, status: 'failed', failure };
      }
      retryRequested = false;
      upsertSearchAttributes([{ key: RefundStatusKey, value: 'pending' }]);
    }
  }

  enter('recording');
  const { fullyRefunded } = await stores.recordRefund({ refundId, gatewayRef });
  if (input.restockLines?.length) {
    enter('restocking');
    await stores.restockRefund({ refundId, lines: input.restockLines });
  }
  enter('updating_order');
  await stores.markOrderRefunded({ orderId, refundId, fullyRefunded });
  upsertSearchAttributes([{ key: RefundStatusKey, value: 'succeeded' }]);
  enter('emailing');
  await followUp
    .sendRefundEmail({ refundId, orderId, email: input.email, amount: input.amount })
    .catch((err: unknown) => log.warn('refund email not sent', { error: String(err) }));
  enter('succeeded');
  return { refundId, status: 'succeeded' };
}
