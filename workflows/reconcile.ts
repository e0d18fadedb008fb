import { allHandlersFinished, condition, continueAsNew, defineQuery, log, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';
import { formatMoney } from '../domain/money';
import type { CheckoutCursor, ReconcileCheckout, ReconcileRefund } from '../activities/reconcile';
import { decideCheckout, decideRefund, type CheckoutFacts, type CheckoutPlan } from './reconcile-plan';

export { decideCheckout, decideRefund, type CheckoutFacts, type CheckoutPlan } from './reconcile-plan';

/** Reads: a failure past the budget fails this run (visible in the Web UI); the Schedule starts the next. */
const facts = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});
/** Repairs: each is idempotent; one that still fails is counted and tried again by the next run. */
const repairs = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

const PAGE_SIZE = 50;
/** Pages per run before continue-as-new keeps the history bounded. */
const PAGES_PER_RUN = 20;
const REFUNDS_PER_RUN = 200;
const PARKED_LISTED = 50;

export interface ReconcileSummary {
  /** Checkouts and pending refunds looked at. */
  inspected: number;
  repaired: { voided: number; refunded: number; released: number; ledgerCorrected: number; checkoutsFailed: number; refundsSettled: number };
  /** Left for support (order `needs_attention` or a note in its history). */
  parked: number;
  /** Repairs that failed past their retries: the next run tries again. */
  errors: number;
  /** The first parked checkouts, for the Web UI. */
  parkedCheckouts: { checkoutId: string; orderId: string | null; reason: string }[];
  runs: number;
}

export interface ReconcileInput {
  pageSize?: number;
  pagesPerRun?: number;
  /** Carried across continue-as-new. */
  cursor?: CheckoutCursor;
  summary?: ReconcileSummary;
}

export const reconcileStatusQuery = defineQuery<ReconcileSummary>('status');



function emptySummary(): ReconcileSummary {
  return {
    inspected: 0,
    repaired: { voided: 0, refunded: 0, released: 0, ledgerCorrected: 0, checkoutsFailed: 0, refundsSettled: 0 },
    parked: 0,
    errors: 0,
    parkedCheckouts: [],
    runs: 0,
  };
}

async function repairCheckout(f: CheckoutFacts, plan: CheckoutPlan, summary: ReconcileSummary): Promise<void> {
  const { checkoutId, workflowId, orderId } = f.checkout;
  const g = f.payment.gateway;
  const key = (step: string) => `${workflowId}/${checkoutId}/${step}`;
  const done: string[] = [];
  // A pending checkout is closed first, and only if no new run took it since the facts were
  // read (a replayed request restarts a terminated checkout): the money is never returned
  // under a live run.
  if (plan.failCheckout && patched('reconcile-closes-before-repair')) {
    const { closed } = await repairs.abandonCheckout({
      checkoutId,
      seenRunId: f.checkout.runId,
      failure: { code: 'checkout_failed', message: 'the checkout did not complete; closed by reconciliation' },
    });
    if (!closed) return;
  }
  let returned = g?.voided ? 'the authorization was voided' : g && g.refunded > 0 ? 'the payment was refunded' : 'nothing was charged';
  if (plan.returnMoney && g) {
    const authorization = { checkoutId, idempotencyKey: key('authorize'), amount: { amount: g.authorized, currency: g.currency }, paymentToken: '' };
    // askGateway: the gateway showed money held, whatever a breaker's mark says
    const result = await repairs.voidPayment({ checkoutId, idempotencyKey: key('void'), authorization, askGateway: true });
    if (result.action !== 'none') {
      returned = `${result.action === 'voided' ? 'the authorization of' : 'the payment of'} ${formatMoney(result.amount, result.currency)} was ${result.action}`;
      summary.repaired[result.action] += 1;
      done.push(returned);
    }
  } else if (plan.correctLedger && g) {
    const { status } = await repairs.correctLedgerFromGateway({ checkoutId, gatewayRef: g.ref });
    summary.repaired.ledgerCorrected += 1;
    done.push(`the payment ledger was corrected from the gateway (${status})`);
  }
  if (plan.releaseHold) {
    await repairs.releaseStock(checkoutId);
    summary.repaired.released += 1;
    done.push('the stock hold was released');
  }
  if (plan.failCheckout) {
    await repairs.recordCheckoutFailure({ checkoutId, failure: { code: 'checkout_failed', message: `the checkout did not complete; ${returned}` } });
    summary.repaired.checkoutsFailed += 1;
  }
  if (orderId && done.length > 0) await repairs.noteOrderEvent({ orderId, type: 'reconciled', reason: `reconciliation: ${done.join('; ')}` });
  if (plan.park) {
    summary.parked += 1;
    if (summary.parkedCheckouts.length < PARKED_LISTED) summary.parkedCheckouts.push({ checkoutId, orderId, reason: plan.park.reason });
    if (plan.park.how === 'transition') await repairs.markOrderNeedsAttention({ checkoutId, reason: `reconciliation: ${plan.park.reason}` });
    if (plan.park.how === 'note' && orderId) await repairs.noteOrderEvent({ orderId, type: 'reconciled', reason: `needs attention: ${plan.park.reason}` });
  }
}

async function reconcileCheckouts(page: ReconcileCheckout[], summary: ReconcileSummary): Promise<void> {
  const ids = page.map((c) => c.checkoutId);
  const [running, payments, holds] = await Promise.all([
    facts.workflowsRunning(page.map((c) => ({ workflowId: c.workflowId, runId: c.runId }))),
    facts.paymentFacts(page.map((c) => ({ checkoutId: c.checkoutId, workflowId: c.workflowId }))),
    facts.holdsOfCheckouts(ids),
  ]);
  for (const [i, checkout] of page.entries()) {
    summary.inspected += 1;
    const f: CheckoutFacts = {
      checkout,
      running: running[i] ?? true,
      payment: payments[checkout.checkoutId] ?? { ledger: null, gateway: null },
      holds: holds[checkout.checkoutId] ?? [],
    };
    const plan = decideCheckout(f);
    try {
      await repairCheckout(f, plan, summary);
    } catch (err) {
      summary.errors += 1;
      log.warn('reconciliation of a checkout failed; the next run tries again', { checkoutId: checkout.checkoutId, why: plan.why, error: String(err) });
    }
  }
}

async function reconcileRefunds(summary: ReconcileSummary): Promise<void> {
  const pending: ReconcileRefund[] = await facts.listPendingRefunds({ limit: REFUNDS_PER_RUN });
  if (pending.length === 0) return;
  const running = await facts.workflowsRunning(pending.map((r) => ({ workflowId: r.workflowId })));
  for (const [i, refund] of pending.entries()) {
    summary.inspected += 1;
    const { refundId, orderId } = refund;
    try {
      const { refundRef } = running[i] ? { refundRef: null } : await facts.lookupRefundAtGateway({ refundId, gatewayRef: refund.gatewayRef });
      const plan = decideRefund({ running: running[i] ?? true, refundRef });
      if (plan === 'leave') continue;
      let note: string;
      if (plan === 'complete' && refundRef) {
        const { fullyRefunded } = await repairs.completeLostRefund({ refundId, refundRef });
        const { moved } = await repairs.recordRefundOnOrder({ orderId, refundId, fullyRefunded });
        note = `refund ${refundId} of ${formatMoney(refund.amount, refund.currency)} was made by the gateway (its reply was lost): recorded as succeeded${moved ? '' : '; the order status was left for support'}`;
      } else {
        await repairs.failLostRefund({ refundId });
        note = `refund ${refundId} of ${formatMoney(refund.amount, refund.currency)} never reached the gateway: failed, its reservation released`;
      }
      summary.repaired.refundsSettled += 1;
      await repairs.noteOrderEvent({ orderId, type: 'reconciled', reason: `reconciliation: ${note}` });
    } catch (err) {
      summary.errors += 1;
      log.warn('reconciliation of a refund failed; the next run tries again', { refundId, error: String(err) });
    }
  }
}

/**
 * Started by the `reconcile` Schedule. For recent checkouts (RECONCILE_LOOKBACK_HOURS, none
 * younger than RECONCILE_GRACE_SECONDS) and pending refunds, compares what the gateway, our
 * payment rows, the orders and the stock holds say, repairs the safe mismatches and parks the
 * rest for support (docs/support.md). Repairs a terminated checkout or refund workflow.
 */
export async function reconcileWorkflow(input: ReconcileInput = {}): Promise<ReconcileSummary> {
  const pageSize = input.pageSize ?? PAGE_SIZE;
  const pagesPerRun = input.pagesPerRun ?? PAGES_PER_RUN;
  const summary = input.summary ?? emptySummary();
  summary.runs += 1;
  setHandler(reconcileStatusQuery, () => summary);

  if (!input.summary) await reconcileRefunds(summary);
  let cursor = input.cursor;
  for (let page = 0; page < pagesPerRun; page++) {
    const checkouts = await facts.listCheckoutsToReconcile({ after: cursor, limit: pageSize });
    await reconcileCheckouts(checkouts, summary);
    const last = checkouts[checkouts.length - 1];
    if (!last || checkouts.length < pageSize) return summary;
    cursor = last.cursor;
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof reconcileWorkflow>({ pageSize, pagesPerRun, cursor, summary });
}
