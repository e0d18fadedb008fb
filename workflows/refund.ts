import {
  CancellationScope,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';
import { RefundStatusKey } from '../temporal/search-attributes';
import { refundStatusQuery, type RefundInput, type RefundOutcome, type RefundStatusView, type RefundStep } from './messages';
import { describeFailure, WaitForSupport } from './parking';
import { showRefundProgress } from './ui-details';

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
/** Asking the gateway before a release: nothing is released until it has answered. */
const lookup = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
const followUp = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '30s',
  // the customer must get it: retried until SMTP is back (the outbox sends it once)
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
});

/** Side effects that must not hold the refund up: a bounded number of tries, then a warning. */
const bestEffort = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
});

/** Line claims, cancel-safe release (ask the gateway first), completion after the refund is non-cancellable. */
export const REFUND_LINE_CLAIMS_PATCH = 'refund-line-claims-and-safe-cancel';


/**
 * One refund request. Its amount was reserved against the capture, and its order-line units
 * claimed, when the API opened it; the first step claims the lines again (idempotent), so a
 * crash between the API's two writes is repaired. The gateway refund is retried; when
 * retries cannot fix it, the refund is parked for support (`retry` or `cancel` signal).
 * A cancel (signal or Temporal cancel request) asks the gateway before releasing anything:
 * a refund the gateway made is recorded as succeeded, and from then on cancels are ignored.
 */
export async function refundWorkflow(input: RefundInput): Promise<RefundOutcome> {
  const { refundId, orderId } = input;
  const view: RefundStatusView = { refundId, orderId, step: 'refunding' };
  const enter = (step: RefundStep) => {
    view.step = step;
    showRefundProgress(view);
  };
  setHandler(refundStatusQuery, () => view);
  const support = new WaitForSupport({
    view,
    status: { key: RefundStatusKey, parked: 'needs_attention', resumed: 'pending' },
    cancelRequestDecides: true,
  });
  if (!patched(REFUND_LINE_CLAIMS_PATCH)) return legacyRefund(input, enter, support);

  const root = CancellationScope.current();
  const cancelled = () => support.cancelReason !== undefined || root.consideredCancelled;
  const nonCancellable = <T>(fn: () => Promise<T>) => CancellationScope.nonCancellable(fn);
  let restockLines: { sku: string; quantity: number }[] = [];

  /** The gateway did not refund (it says so): the reservation and the line claims go back. */
  async function release(failure: { code: string; message: string }): Promise<RefundOutcome> {
    enter('releasing');
    await nonCancellable(async () => {
      await stores.releaseRefundLines({ refundId });
      await stores.releaseRefund({ refundId, failure });
    });
    upsertSearchAttributes([{ key: RefundStatusKey, value: 'failed' }]);
    enter('failed');
    return { refundId, status: 'failed', failure };
  }

  /** Before releasing on a cancel, ask the gateway: a lost reply may hide a refund it made. */
  async function settleCancel(): Promise<string | RefundOutcome> {
    const found = await nonCancellable(() => lookup.findRefundAtGateway(refundId));
    if (found.gatewayRef) {
      log.warn('refund cancelled after the gateway made it: recording it as succeeded', { refundId });
      return found.gatewayRef;
    }
    return release({ code: 'refund_cancelled', message: support.cancelReason ?? 'cancelled (workflow cancel request)' });
  }

  async function refundOrCancel(): Promise<string | RefundOutcome> {
    enter('claiming');
    const claim = await nonCancellable(() => stores.claimRefundLines({ refundId, orderId, lines: input.lines ?? [] }));
    if (claim.status === 'exceeds_sold') return release({ code: 'refund_exceeds_sold', message: 'the lines exceed what is left to refund' });
    if (claim.status === 'released') return release({ code: 'refund_cancelled', message: 'the refund gave its lines back already' });
    restockLines = claim.lines.filter((l) => l.restock > 0).map((l) => ({ sku: l.sku, quantity: l.restock }));
    for (;;) {
      if (cancelled()) return settleCancel();
      enter('refunding');
      try {
        // never abandoned mid-call: a cancel waits for the gateway's answer, then decides
        return (await nonCancellable(() => gateway.refundAtGateway(refundId))).gatewayRef;
      } catch (err) {
        // past its retries: support decides (a cancel is settled at the top of the loop)
        await support.decide(describeFailure(err));
      }
    }
  }

  const settled = await refundOrCancel();
  if (typeof settled !== 'string') return settled;
  // the gateway refunded: the point of no return, cancel requests are ignored from here
  return nonCancellable(() => recordAndTell(input, enter, settled, restockLines));
}

/** Refunds started before REFUND_LINE_CLAIMS_PATCH: their recorded commands, unchanged. */
async function legacyRefund(input: RefundInput, enter: (step: RefundStep) => void, support: WaitForSupport): Promise<RefundOutcome> {
  const { refundId } = input;
  let gatewayRef: string | undefined;
  while (!gatewayRef) {
    enter('refunding');
    try {
      gatewayRef = (await gateway.refundAtGateway(refundId)).gatewayRef;
    } catch (err) {
      if ((await support.decide(describeFailure(err))) === 'cancel') {
        const failure = { code: 'refund_cancelled', message: support.cancelReason ?? 'cancelled by support' };
        await stores.releaseRefund({ refundId, failure });
        upsertSearchAttributes([{ key: RefundStatusKey, value: 'failed' }]);
        enter('failed');
        return { refundId, status: 'failed', failure };
      }
    }
  }
  return recordAndTell(input, enter, gatewayRef, input.restockLines ?? []);
}

/** After the gateway refunded: record it, restock what was claimed, move the order, email the customer. */
async function recordAndTell(
  input: RefundInput,
  enter: (step: RefundStep) => void,
  gatewayRef: string,
  restockLines: { sku: string; quantity: number }[],
): Promise<RefundOutcome> {
  const { refundId, orderId } = input;
  enter('recording');
  const { fullyRefunded } = await stores.recordRefund({ refundId, gatewayRef });
  if (restockLines.length > 0) {
    enter('restocking');
    await stores.restockRefund({ refundId, lines: restockLines });
  }
  enter('updating_order');
  await stores.markOrderRefunded({ orderId, refundId, fullyRefunded });
  // a fully refunded order stops counting for "also bought" (the daily recompute also leaves it out)
  if (fullyRefunded && patched('recommendations-after-refund')) {
    await bestEffort.forgetPurchaseForRecommendations({ orderId }).catch((err: unknown) => log.warn('recommendations not updated', { error: String(err) }));
  }
  upsertSearchAttributes([{ key: RefundStatusKey, value: 'succeeded' }]);
  enter('emailing');
  await followUp
    .sendRefundEmail({ refundId, orderId, email: input.email, amount: input.amount })
    .catch((err: unknown) => log.warn('refund email not sent', { error: String(err) }));
  enter('succeeded');
  return { refundId, status: 'succeeded' };
}
