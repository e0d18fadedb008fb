import { WorkflowNotFoundError } from '@temporalio/client';
import type { HoldStatus } from '../db/schema/inventory';
import { canTransition, IllegalOrderTransition, ORDER_STATUSES, type OrderStatus } from '../db/stores/order-lifecycle';
import { transitionOrder } from '../db/stores/orders';
import { restock } from '../db/stores/holds';
import { getPaymentsByCheckouts, syncPaymentFromGateway } from '../db/stores/payments';
import { completeRefund, failRefund } from '../db/stores/refunds';
import { refundClaims, releaseRefundLines } from '../db/stores/refund-lines';
import { checkoutsCreatedBetween, holdStatuses, pendingRefundsBetween, type CheckoutCursor, type CheckoutToReconcile, type PendingRefund } from '../db/stores/reconcile';
import { refundWorkflowId } from '../temporal/workflow-ids';
import type { ActivityDeps } from './deps';
import type { GatewayPayment } from './gateways/payment-gateway';

export type { CheckoutCursor, HoldStatus };
export type ReconcileCheckout = CheckoutToReconcile & { orderCanPark: boolean };
export type ReconcileRefund = PendingRefund & { workflowId: string };
/** Our payment row as reconciliation compares it with the gateway. */
export interface LedgerView {
  gatewayRef: string;
  status: string;
  currency: string;
  authorized: number;
  captured: number;
  refunded: number;
  refundPending: number;
}
export interface PaymentFacts {
  ledger: LedgerView | null;
  gateway: GatewayPayment | null;
}

const isOrderStatus = (s: string | null): s is OrderStatus => s !== null && (ORDER_STATUSES as readonly string[]).includes(s);

/**
 * The facts reconciliation compares (one activity per context: orders, Temporal, payment and
 * gateway, inventory) and the few repairs no other activity makes. The workflow decides.
 */
export function reconcileActivities({ dbs, gateway, temporal, config }: ActivityDeps) {
  /** Recent enough to look at, old enough that a live step is not mistaken for a crash. */
  const window = () => {
    const now = Date.now();
    return { from: new Date(now - config.reconcile.lookbackHours * 3_600_000), to: new Date(now - config.reconcile.graceSeconds * 1000) };
  };

  return {
    async listCheckoutsToReconcile(req: { after?: CheckoutCursor; limit: number }): Promise<ReconcileCheckout[]> {
      const rows = await checkoutsCreatedBetween(dbs.order, { ...window(), after: req.after, limit: req.limit });
      return rows.map((r) => ({ ...r, orderCanPark: isOrderStatus(r.orderStatus) && canTransition(r.orderStatus, 'needs_attention') }));
    },

    /** Is each workflow run still running? A run Temporal no longer knows is not. */
    async workflowsRunning(refs: { workflowId: string; runId?: string | null }[]): Promise<boolean[]> {
      if (!temporal) throw new Error('reconciliation needs a Temporal client');
      return Promise.all(
        refs.map(async (ref) => {
          try {
            const run = await temporal.workflow.getHandle(ref.workflowId, ref.runId ?? undefined).describe();
            return run.status.name === 'RUNNING';
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) return false;
            throw err;
          }
        }),
      );
    },

    /** Our ledger row and the gateway's own view of each checkout's payment (found by its authorize key when we have no row). */
    async paymentFacts(refs: { checkoutId: string; workflowId: string }[]): Promise<Record<string, PaymentFacts>> {
      const rows = await getPaymentsByCheckouts(dbs.payment, refs.map((r) => r.checkoutId));
      const facts: Record<string, PaymentFacts> = {};
      for (const { checkoutId, workflowId } of refs) {
        const row = rows.get(checkoutId);
        const ref = row?.gatewayRef ?? (await gateway.findAuthorization({ idempotencyKey: `${workflowId}/${checkoutId}/authorize`, reference: checkoutId }));
        const ledger: LedgerView | null = row
          ? {
              gatewayRef: row.gatewayRef,
              status: row.status,
              currency: row.currency,
              authorized: row.authorizedAmount,
              captured: row.capturedAmount,
              refunded: row.refundedAmount,
              refundPending: row.refundPendingAmount,
            }
          : null;
        facts[checkoutId] = { ledger, gateway: (ref && (await gateway.lookupPayment(ref))) || null };
      }
      return facts;
    },

    async holdsOfCheckouts(checkoutIds: string[]): Promise<Record<string, HoldStatus[]>> {
      return Object.fromEntries(await holdStatuses(dbs.inventory, checkoutIds));
    },

    /** Sets our payment row to what the gateway says now (the gateway is the truth about money). */
    async correctLedgerFromGateway(req: { checkoutId: string; gatewayRef: string }): Promise<{ status: string }> {
      const now = await gateway.lookupPayment(req.gatewayRef);
      if (!now) throw new Error(`the gateway no longer knows payment ${req.gatewayRef}`);
      return { status: (await syncPaymentFromGateway(dbs.payment, req.checkoutId, gateway.name, now)).status };
    },

    async listPendingRefunds(req: { limit: number }): Promise<ReconcileRefund[]> {
      const rows = await pendingRefundsBetween(dbs.payment, { ...window(), limit: req.limit });
      return rows.map((r) => ({ ...r, workflowId: refundWorkflowId(r.refundId) }));
    },

    /** Did the gateway make this refund (under the refund's own key)? Its reply may have been lost. */
    async lookupRefundAtGateway(req: { refundId: string; gatewayRef: string }): Promise<{ refundRef: string | null }> {
      const found = await gateway.findRefund({ ref: req.gatewayRef, idempotencyKey: `refund-${req.refundId}/gateway` });
      return { refundRef: found?.refundRef ?? null };
    },

    /** The gateway made it: recorded as refunded, and the units it claimed for restock go back (once). */
    async completeLostRefund(req: { refundId: string; refundRef: string }): Promise<{ fullyRefunded: boolean }> {
      let payment = await completeRefund(dbs.payment, req.refundId, req.refundRef);
      // the ledger follows the gateway (other refunds may have moved it meanwhile)
      const atGateway = await gateway.lookupPayment(payment.gatewayRef);
      if (atGateway) payment = await syncPaymentFromGateway(dbs.payment, payment.checkoutId, gateway.name, atGateway);
      const restockLines = (await refundClaims(dbs.order, req.refundId)).filter((c) => c.restock > 0).map((c) => ({ sku: c.sku, quantity: c.restock }));
      if (restockLines.length > 0) await restock(dbs.inventory, req.refundId, restockLines);
      return { fullyRefunded: payment.refundedAmount >= payment.capturedAmount };
    },

    /** It never reached the gateway: the amount reservation and the claimed line units are given back. */
    async failLostRefund(req: { refundId: string }): Promise<void> {
      await failRefund(dbs.payment, req.refundId, {
        code: 'refund_failed',
        message: 'the refund never reached the payment gateway and its workflow ended; closed by reconciliation',
      });
      await releaseRefundLines(dbs.order, req.refundId);
    },

    /** The order follows a refund reconciliation completed; false when its status cannot (it is noted instead). */
    async recordRefundOnOrder(req: { orderId: string; refundId: string; fullyRefunded: boolean }): Promise<{ moved: boolean }> {
      try {
        const to = req.fullyRefunded ? 'refunded' : 'partially_refunded';
        await transitionOrder(dbs.order, req.orderId, to, `refund ${req.refundId} (settled by reconciliation)`);
        return { moved: true };
      } catch (err) {
        if (err instanceof IllegalOrderTransition) return { moved: false };
        throw err;
      }
    },
  };
}
