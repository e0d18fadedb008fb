import { log, proxyActivities } from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';
import type { PaymentFollowUpInput, PaymentFollowUpResult } from '../domain/payment-events';

/** Store writes and gateway reads after a gateway event: they must eventually happen. */
const followUp = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
});

/**
 * What a signed gateway event asks of us beyond waking a checkout, started once per event id
 * by the webhook (temporal/payment-events.ts). A dispute flags the order for support first
 * (it needs no gateway), then our ledger is set to what the gateway says now: a refund made
 * outside Orderly (the Stripe dashboard) or whose workflow died is counted, and the events'
 * order does not matter because nothing is taken from the event but the payment's id.
 */
export async function paymentFollowUpWorkflow(input: PaymentFollowUpInput): Promise<PaymentFollowUpResult> {
  let flaggedOrderId: string | null | undefined;
  if (input.dispute) {
    ({ orderId: flaggedOrderId } = await followUp.flagDisputedOrder({ checkoutId: input.checkoutId, dispute: input.dispute }));
    if (!flaggedOrderId) log.warn('a disputed payment has no order', { checkoutId: input.checkoutId, disputeId: input.dispute.id });
  }
  const ledger = await followUp.syncLedgerAfterPaymentEvent({ checkoutId: input.checkoutId, gatewayRef: input.gatewayRef });
  return flaggedOrderId === undefined ? { ledger } : { ledger, flaggedOrderId };
}
