import { Router, type RequestHandler } from 'express';
import { getPaymentByCheckout, getPaymentsByCheckouts } from '../../db/stores/payments';
import { findOrderIds, loadOrders, type OrderView } from '../../db/stores/order-views';
import type { Payment } from '../../db/schema/payment';
import { optionalSupportActor, readsAsSupport } from '../auth';
import { mayAccess } from '../../domain/ownership';
import { customerOf } from '../customer-auth';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { parse } from '../validate';
import { orderIdSchema, ordersQuerySchema } from '../schemas/orders';

const money = (amount: number, currency: string) => ({ amount, currency });

/**
 * The storefront's Order shape (shared/API.md). `forSupport`: events name the support
 * person who acted (`actor`); a customer reads the event and its reason, not who.
 */
export function presentOrder(order: OrderView, payment: Payment | undefined, forSupport = false) {
  return {
    id: order.id,
    status: order.status,
    email: order.email,
    customerId: order.customerId ?? undefined,
    createdAt: order.createdAt.toISOString(),
    lines: order.lines.map((l) => ({
      sku: l.sku,
      name: l.name,
      quantity: l.quantity,
      unitPrice: money(l.unitPriceAmount, order.currency),
      lineTotal: money(l.lineTotalAmount, order.currency),
    })),
    total: money(order.totalAmount, order.currency),
    payment: {
      authorized: money(payment?.authorizedAmount ?? 0, order.currency),
      captured: money(payment?.capturedAmount ?? 0, order.currency),
      refunded: money(payment?.refundedAmount ?? 0, order.currency),
    },
    events: order.events.map((e) => ({
      type: e.type,
      from: e.fromStatus ?? undefined,
      to: e.toStatus ?? undefined,
      reason: e.reason ?? undefined,
      at: e.at.toISOString(),
      actor: forSupport && e.actorId ? { id: e.actorId, name: e.actorName ?? e.actorId } : undefined,
    })),
  };
}


export function ordersRouter(deps: AppDeps, requireSupport: RequestHandler): Router {
  const { dbs } = deps;
  const router = Router();

  // The order id is the customer's capability: unguessable, so it alone grants the read — of a
  // guest's order; an account's order only to that customer's access token (domain/ownership.ts).
  // A support credential (optional here) reads any order and also sees who acted on it.
  router.get('/:orderId', optionalSupportActor, async (req, res) => {
    const orderId = parse(orderIdSchema, req.params.orderId, 'order id');
    const [order] = await loadOrders(dbs.order, [orderId]);
    const forSupport = readsAsSupport(res);
    if (!order || (!forSupport && !mayAccess(order.customerId, customerOf(res)))) throw new AppError('not_found', 'no such order');
    res.json(presentOrder(order, await getPaymentByCheckout(dbs.payment, order.checkoutId), forSupport));
  });

  // Support search across customers: role `support`.
  router.get('/', requireSupport, async (req, res) => {
    const query = parse(ordersQuerySchema, req.query, 'query');
    const orders = await loadOrders(dbs.order, await findOrderIds(dbs.order, query));
    const payments = await getPaymentsByCheckouts(dbs.payment, orders.map((o) => o.checkoutId));
    const items = orders.map((o) => presentOrder(o, payments.get(o.checkoutId), true));
    res.json({ items });
  });

  return router;
}
