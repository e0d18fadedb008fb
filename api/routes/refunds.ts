import type { Client } from '@temporalio/client';
import { Router } from 'express';
import { z } from 'zod';
import { loadOrders, type OrderView } from '../../db/stores/orders';
import { listRefunds, openRefund, RefundExceedsCaptured } from '../../db/stores/payments';
import type { Refund } from '../../db/schema/payment';
import { CustomerEmailKey, OrderIdKey, RefundStatusKey } from '../../temporal/search-attributes';
import { refundWorkflowId } from '../../temporal/task-queues';
import type { RefundInput, RefundOutcome } from '../../workflows/messages';
import type { refundWorkflow } from '../../workflows/refund';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { requestHash, requireIdempotencyKey } from '../idempotency';
import { refundBodySchema, type RefundBody } from '../schemas/refunds';
import { parse } from '../validate';

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

/** The amount a request asks for, from what was paid for the order's lines. Undefined = all. */
function requestedAmount(order: OrderView, body: RefundBody): number | undefined {
  if (body.amount) {
    if (body.amount.currency !== order.currency) {
      throw new AppError('invalid_request', `the order was paid in ${order.currency}`, [{ field: 'amount.currency', message: 'currency mismatch' }]);
    }
    return body.amount.amount;
  }
  if (!body.lines) return undefined;
  let amount = 0;
  for (const line of body.lines) {
    const paid = order.lines.find((l) => l.sku === line.sku);
    if (!paid) throw new AppError('invalid_request', `the order has no line ${line.sku}`, [{ field: 'lines', message: `unknown sku ${line.sku}` }]);
    if (line.quantity > paid.quantity) {
      throw new AppError('invalid_request', `the order has ${paid.quantity} of ${line.sku}`, [{ field: 'lines', message: 'quantity above what was ordered' }]);
    }
    amount += paid.unitPriceAmount * line.quantity;
  }
  return amount;
}

async function runRefund(client: Client, taskQueue: string, input: RefundInput, waitMs: number): Promise<RefundOutcome | undefined> {
  const handle = await client.workflow.start<typeof refundWorkflow>('refundWorkflow', {
    workflowId: refundWorkflowId(input.refundId),
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: OrderIdKey, value: input.orderId },
      { key: CustomerEmailKey, value: input.email },
      { key: RefundStatusKey, value: 'pending' },
    ],
  }).catch(async (err: unknown) => {
    // a finished refund's workflow id cannot be reused: answer from the store instead
    if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') return undefined;
    throw err;
  });
  if (!handle) return undefined;
  const timer = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), waitMs).unref());
  return Promise.race([handle.result(), timer]);
}

export function refundsRouter({ dbs, temporal, config }: AppDeps): Router {
  const router = Router({ mergeParams: true });
  const orderIdOf = (params: Record<string, string>) => parse(z.string().min(1).max(100), params.orderId, 'order id');

  router.post('/', async (req, res) => {
    const orderId = orderIdOf(req.params);
    const key = requireIdempotencyKey(req);
    const body = parse(refundBodySchema, req.body, 'refund');
    const [order] = await loadOrders(dbs.order, [orderId]);
    if (!order) throw new AppError('not_found', 'no such order');
    const amount = requestedAmount(order, body);
    const restockLines = body.restock ? (body.lines ?? order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity }))) : undefined;

    let opened;
    try {
      opened = await openRefund(dbs.payment, {
        orderId,
        checkoutId: order.checkoutId,
        idempotencyKey: key,
        requestHash: requestHash(body),
        amount,
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
    if (refund.status !== 'pending') return res.status(201).json(present(refund));

    const outcome = await runRefund(
      temporal,
      config.temporal.taskQueue,
      { refundId: refund.id, orderId, email: order.email, amount: { amount: refund.amount, currency: refund.currency }, restockLines },
      config.checkout.waitMs,
    );
    if (!outcome) return res.status(202).json(present(refund, 'pending'));
    res.status(201).json(present(refund, outcome.status));
  });

  router.get('/', async (req, res) => {
    const orderId = orderIdOf(req.params);
    const [order] = await loadOrders(dbs.order, [orderId]);
    if (!order) throw new AppError('not_found', 'no such order');
    res.json({ items: (await listRefunds(dbs.payment, orderId)).map((r) => present(r)) });
  });

  return router;
}
