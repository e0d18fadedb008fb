import type { Client } from '@temporalio/client';
import type { Refund } from '../db/schema/payment';
import { loadOrders } from '../db/stores/order-views';
import { claimRefundLines, refundableLines } from '../db/stores/refund-lines';
import { failRefund, getRefund, listRefunds, openRefund, RefundExceedsCaptured } from '../db/stores/refunds';
import { customerEmailHash } from '../temporal/codec';
import { startRefund } from '../temporal/refund';
import type { SupportActor } from '../domain/support';
import type { RefundInput, RefundOutcome } from '../workflows/messages';
import type { UseCaseDeps } from './deps';
import { refundView, type RefundView } from './list-refunds';
import { exceedsSold, planRefund, refundableOf, refusalOfOrder, type RefundRequest } from './refund-plan';
import { rejected, type Rejected } from './result';
import { waitAtMost } from './wait';

export type RequestRefundResult =
  /** The refund has its outcome (now, or from an earlier request with the same key). */
  | { kind: 'settled'; view: RefundView }
  /** Its workflow runs on past `config.refund.waitMs`. */
  | { kind: 'pending'; view: RefundView }
  | Rejected;

async function runRefund(client: Client, taskQueue: string, input: RefundInput, waitMs: number, emailHash: string): Promise<RefundOutcome | undefined> {
  const handle = await startRefund(client, taskQueue, input, emailHash).catch(async (err: unknown) => {
    // a finished refund's workflow id cannot be reused: answer from the store instead
    if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') return undefined;
    throw err;
  });
  if (!handle) return undefined;
  const outcome = await waitAtMost(handle.result(), waitMs);
  return outcome === 'timeout' ? undefined : outcome;
}

/** A refund already settled: the same answer as its first request had. */
async function settled({ dbs }: Pick<UseCaseDeps, 'dbs'>, r: Refund, failure = r.failure as { code?: string } | null): Promise<RequestRefundResult> {
  if (r.status === 'failed' && failure?.code === 'refund_exceeds_sold') {
    const soldLines = await refundableLines(dbs.order, r.orderId);
    const asked = r.lines ?? soldLines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
    return exceedsSold(asked.map((l) => ({ sku: l.sku, requested: l.quantity, refundable: refundableOf(soldLines, l.sku) })));
  }
  return { kind: 'settled', view: refundView(r) };
}

/**
 * POST /orders/:orderId/refunds: checks the order may be refunded and what the request
 * takes (usecases/refund-plan.ts), opens the refund (reserving its amount), claims its units,
 * then runs its workflow and waits at most `config.refund.waitMs` for the outcome.
 */
export async function requestRefund(
  deps: UseCaseDeps,
  orderId: string,
  idempotency: { key: string; requestHash: string },
  request: RefundRequest,
  /** Who asks: recorded in the order's history and the refund workflow's memo. */
  actor: SupportActor,
): Promise<RequestRefundResult> {
  const { dbs, temporal, config } = deps;
  const [order] = await loadOrders(dbs.order, [orderId]);
  if (!order) return rejected('not_found', 'no such order');
  // a retry of a refund already opened is answered from its own record: its units are already taken
  const known = (await listRefunds(dbs.payment, orderId)).some((r) => r.idempotencyKey === idempotency.key);
  const refusal = known ? undefined : refusalOfOrder(order);
  if (refusal) return refusal;
  const plan = planRefund(order, await refundableLines(dbs.order, orderId), request, !known);
  if (plan.kind === 'rejected') return plan;

  let opened;
  try {
    opened = await openRefund(dbs.payment, {
      orderId,
      checkoutId: order.checkoutId,
      idempotencyKey: idempotency.key,
      requestHash: idempotency.requestHash,
      amount: plan.amount,
      reason: request.reason,
      lines: request.lines,
      restock: request.restock,
    });
  } catch (err) {
    if (err instanceof RefundExceedsCaptured) {
      return rejected('refund_exceeds_captured', 'the refund is larger than what is left to refund', {
        refundable: { amount: err.refundable, currency: order.currency },
      });
    }
    throw err;
  }
  const refund = opened.refund;
  if (refund.requestHash !== idempotency.requestHash) {
    return rejected('idempotency_key_reused', 'this Idempotency-Key was used with a different request');
  }
  if (refund.status !== 'pending') return settled(deps, refund);

  // the units are claimed before the gateway is ever called; a loser of a race gets 422
  const claim = await claimRefundLines(dbs.order, {
    refundId: refund.id,
    orderId,
    lines: plan.lines,
    requestedBy: { actor, reason: request.reason },
  });
  if (claim.status === 'exceeds_sold') {
    await failRefund(dbs.payment, refund.id, { code: 'refund_exceeds_sold', message: 'the lines exceed what is left to refund' });
    return exceedsSold(claim.shortfalls);
  }
  if (claim.status === 'released') {
    const current = await getRefund(dbs.payment, refund.id);
    if (current && current.status !== 'pending') return settled(deps, current);
  }

  const outcome = await runRefund(
    temporal,
    config.temporal.taskQueue,
    {
      refundId: refund.id,
      orderId,
      email: order.email,
      amount: { amount: refund.amount, currency: refund.currency },
      lines: claim.status === 'claimed' ? claim.lines : [],
      // who, not why: the reason is in the order's history (refund_requested), not the workflow's
      requestedBy: { actor: { id: actor.id, name: actor.name } },
    },
    config.refund.waitMs,
    customerEmailHash(config.privacy.emailHashSecret, order.email),
  );
  if (!outcome) return { kind: 'pending', view: refundView(refund, 'pending') };
  if (outcome.status === 'failed' && outcome.failure?.code === 'refund_exceeds_sold') return settled(deps, refund, outcome.failure);
  return { kind: 'settled', view: refundView(refund, outcome.status) };
}
