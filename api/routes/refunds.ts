import type { Client } from '@temporalio/client';
import { Router } from 'express';
import { loadOrders, type OrderView } from '../../db/stores/order-views';
import { failRefund, getRefund, listRefunds, openRefund, RefundExceedsCaptured } from '../../db/stores/refunds';
import { claimRefundLines, refundableLines, type LineShortfall, type RefundableLine, type RefundLineClaim } from '../../db/stores/refund-lines';
import type { Refund } from '../../db/schema/payment';
import { startRefund } from '../../temporal/refund';
import type { RefundInput, RefundOutcome } from '../../workflows/messages';
import { requireAdmin } from '../auth';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { requestHash, requireIdempotencyKey } from '../idempotency';
import { refundBodySchema, type RefundBody } from '../schemas/refunds';
import { parse } from '../validate';
import { orderIdSchema } from '../schemas/orders';

function present(r: Refund, status?: RefundOutcome['status'] | 'pending') {
  return {
    refundId: r.id,
    orderId: r.orderId,
    status: status ?? r.status,
    amount: { amount: r.amount, currency: r.currency },
    reason: r.reason,
    ...(r.lines ? { lines: r.lines } : {}),
    restock: r.restock,
    createdAt: r.createdAt.toISOString(),
  };
}

interface RefundPlan {
  /** Minor units; undefined = everything still refundable (openRefund decides). */
  amount?: number;
  lines: RefundLineClaim[];
}

function exceedsSold(shortfalls: LineShortfall[]): AppError {
  return new AppError('refund_exceeds_sold', 'a line would be refunded beyond what is left of what was sold', shortfalls);
}

/**
 * What a request takes: `lines` → those units (amount = price paid × units unless `amount`
 * is given too); neither → a full refund of what is left (every line's remaining units, the
 * remaining captured amount); `amount` only → money only, no units. Checked here for a
 * clear answer; the bound itself is the claim (db/stores/refund-lines.ts).
 */
function planRefund(order: OrderView, soldLines: RefundableLine[], body: RefundBody, checkBounds = true): RefundPlan {
  if (body.amount && body.amount.currency !== order.currency) {
    throw new AppError('invalid_request', `the order was paid in ${order.currency}`, [{ field: 'amount.currency', message: 'currency mismatch' }]);
  }
  if (!body.lines) {
    if (body.amount) return { amount: body.amount.amount, lines: [] };
    const left = soldLines.filter((l) => l.refunded < l.quantity);
    return { lines: left.map((l) => ({ sku: l.sku, quantity: l.quantity - l.refunded, restock: body.restock ? l.quantity - l.refunded : 0 })) };
  }
  const wanted = new Map<string, number>();
  for (const line of body.lines) wanted.set(line.sku, (wanted.get(line.sku) ?? 0) + line.quantity);
  let amount = 0;
  const shortfalls: LineShortfall[] = [];
  for (const [sku, quantity] of wanted) {
    const paid = soldLines.find((l) => l.sku === sku);
    if (!paid) throw new AppError('invalid_request', `the order has no line ${sku}`, [{ field: 'lines', message: `unknown sku ${sku}` }]);
    const refundable = paid.quantity - paid.refunded;
    if (checkBounds && quantity > refundable) shortfalls.push({ sku, requested: quantity, refundable });
    amount += paid.unitPriceAmount * quantity;
  }
  if (shortfalls.length > 0) throw exceedsSold(shortfalls);
  const lines = [...wanted].map(([sku, quantity]) => ({ sku, quantity, restock: body.restock ? quantity : 0 }));
  return { amount: body.amount?.amount ?? amount, lines };
}

async function runRefund(client: Client, taskQueue: string, input: RefundInput, waitMs: number): Promise<RefundOutcome | undefined> {
  const handle = await startRefund(client, taskQueue, input).catch(async (err: unknown) => {
    // a finished refund's workflow id cannot be reused: answer from the store instead
    if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') return undefined;
    throw err;
  });
  if (!handle) return undefined;
  const timer = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), waitMs).unref());
  const result = handle.result();
  // the wait may be given up (the 202 answer, a shutdown): its rejection is nobody's error
  result.catch(() => undefined);
  return Promise.race([result, timer]);
}

const refundableOf = (soldLines: RefundableLine[], sku: string) => {
  const line = soldLines.find((l) => l.sku === sku);
  return line ? line.quantity - line.refunded : 0;
};

/**
 * Orders whose sale was committed and paid for. Any other order has nothing that a refund
 * may give back (a parked or placed order's units were never sold to it): support cancels a
 * parked order instead (POST /admin/orders/:orderId/cancel returns the money). A refunded
 * order is listed so that a new refund gets the precise 422 (nothing left to refund).
 */
const REFUNDABLE_ORDER_STATUSES: ReadonlySet<string> = new Set(['paid', 'fulfilled', 'partially_refunded', 'refunded']);

/** The actor recorded for the shared admin credential (there are no per-person accounts yet). */
const SUPPORT_ACTOR = 'support';

export function refundsRouter({ dbs, temporal, config }: AppDeps): Router {
  const router = Router({ mergeParams: true });
  const orderIdOf = (params: { orderId?: unknown }) => parse(orderIdSchema, params.orderId, 'order id');

  // refunds are a support action; the order's holder may still read them (GET below)
  router.post('/', requireAdmin(config), async (req, res) => {
    const orderId = orderIdOf(req.params);
    const key = requireIdempotencyKey(req);
    const body = parse(refundBodySchema, req.body, 'refund');
    const [order] = await loadOrders(dbs.order, [orderId]);
    if (!order) throw new AppError('not_found', 'no such order');
    // a retry of a refund already opened is answered from its own record: its units are already taken
    const known = (await listRefunds(dbs.payment, orderId)).some((r) => r.idempotencyKey === key);
    if (!known && !REFUNDABLE_ORDER_STATUSES.has(order.status)) {
      throw new AppError('order_not_refundable', `an order that is ${order.status} has no committed sale to refund; a parked order is cancelled instead`, {
        status: order.status,
      });
    }
    const plan = planRefund(order, await refundableLines(dbs.order, orderId), body, !known);

    let opened;
    try {
      opened = await openRefund(dbs.payment, {
        orderId,
        checkoutId: order.checkoutId,
        idempotencyKey: key,
        requestHash: requestHash(body),
        amount: plan.amount,
        reason: body.reason,
        lines: body.lines,
        restock: body.restock,
      });
    } catch (err) {
      if (err instanceof RefundExceedsCaptured) {
        throw new AppError('refund_exceeds_captured', 'the refund is larger than what is left to refund', {
          refundable: { amount: err.refundable, currency: order.currency },
        });
      }
      throw err;
    }
    const refund = opened.refund;
    if (refund.requestHash !== requestHash(body)) {
      throw new AppError('idempotency_key_reused', 'this Idempotency-Key was used with a different request');
    }
    if (refund.status !== 'pending') return answerSettled(refund);

    // the units are claimed before the gateway is ever called; a loser of a race gets 422
    const claim = await claimRefundLines(dbs.order, {
      refundId: refund.id,
      orderId,
      lines: plan.lines,
      requestedBy: { actor: SUPPORT_ACTOR, reason: body.reason },
    });
    if (claim.status === 'exceeds_sold') {
      await failRefund(dbs.payment, refund.id, { code: 'refund_exceeds_sold', message: 'the lines exceed what is left to refund' });
      throw exceedsSold(claim.shortfalls);
    }
    if (claim.status === 'released') {
      const settled = await getRefund(dbs.payment, refund.id);
      if (settled && settled.status !== 'pending') return answerSettled(settled);
    }

    const outcome = await runRefund(
      temporal,
      config.temporal.taskQueue,
      { refundId: refund.id, orderId, email: order.email, amount: { amount: refund.amount, currency: refund.currency }, lines: claim.status === 'claimed' ? claim.lines : [] },
      config.checkout.waitMs,
    );
    if (!outcome) return res.status(202).json(present(refund, 'pending'));
    if (outcome.status === 'failed' && outcome.failure?.code === 'refund_exceeds_sold') return answerSettled(refund, outcome.failure);
    res.status(201).json(present(refund, outcome.status));

    /** A refund already settled: the same answer as its first request had. */
    async function answerSettled(r: Refund, failure = r.failure as { code?: string } | null) {
      if (r.status === 'failed' && failure?.code === 'refund_exceeds_sold') {
        const soldLines = await refundableLines(dbs.order, orderId);
        const asked = r.lines ?? soldLines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
        throw exceedsSold(asked.map((l) => ({ sku: l.sku, requested: l.quantity, refundable: refundableOf(soldLines, l.sku) })));
      }
      return res.status(201).json(present(r));
    }
  });

  router.get('/', async (req, res) => {
    const orderId = orderIdOf(req.params);
    const [order] = await loadOrders(dbs.order, [orderId]);
    if (!order) throw new AppError('not_found', 'no such order');
    res.json({ items: (await listRefunds(dbs.payment, orderId)).map((r) => present(r)) });
  });

  return router;
}
