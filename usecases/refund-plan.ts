import type { OrderView } from '../db/stores/order-views';
import type { LineShortfall, RefundableLine, RefundLineClaim } from '../db/stores/refund-lines';
import type { Money } from '../domain/money';
import { rejected, type Rejected } from './result';

/** What support asks to give back (POST /orders/:orderId/refunds). */
export interface RefundRequest {
  amount?: Money;
  lines?: { sku: string; quantity: number }[];
  restock: boolean;
  reason: string;
}

export interface RefundPlan {
  kind: 'planned';
  /** Minor units; undefined = everything still refundable (openRefund decides). */
  amount?: number;
  lines: RefundLineClaim[];
}

/**
 * Orders whose sale was committed and paid for. Any other order has nothing that a refund
 * may give back (a parked or placed order's units were never sold to it): support cancels a
 * parked order instead (POST /admin/orders/:orderId/cancel returns the money). A refunded
 * order is listed so that a new refund gets the precise 422 (nothing left to refund).
 */
const REFUNDABLE_ORDER_STATUSES: ReadonlySet<string> = new Set(['paid', 'fulfilled', 'partially_refunded', 'refunded']);

/** Only a paid order is refunded (a retry of a refund already opened is answered from its record). */
export function refusalOfOrder(order: OrderView): Rejected | undefined {
  if (REFUNDABLE_ORDER_STATUSES.has(order.status)) return undefined;
  return rejected('order_not_refundable', `an order that is ${order.status} has no committed sale to refund; a parked order is cancelled instead`, {
    status: order.status,
  });
}

export function exceedsSold(shortfalls: LineShortfall[]): Rejected {
  return rejected('refund_exceeds_sold', 'a line would be refunded beyond what is left of what was sold', shortfalls);
}

/** What is left of a line to refund (0 for a SKU the order does not have). */
export function refundableOf(soldLines: RefundableLine[], sku: string): number {
  const line = soldLines.find((l) => l.sku === sku);
  return line ? line.quantity - line.refunded : 0;
}

/**
 * What a request takes: `lines` → those units (amount = price paid × units unless `amount`
 * is given too); neither → a full refund of what is left (every line's remaining units, the
 * remaining captured amount); `amount` only → money only, no units. Checked here for a
 * clear answer; the bound itself is the claim (db/stores/refund-lines.ts).
 */
export function planRefund(order: OrderView, soldLines: RefundableLine[], request: RefundRequest, checkBounds = true): RefundPlan | Rejected {
  if (request.amount && request.amount.currency !== order.currency) {
    return rejected('invalid_request', `the order was paid in ${order.currency}`, [{ field: 'amount.currency', message: 'currency mismatch' }]);
  }
  if (!request.lines) {
    if (request.amount) return { kind: 'planned', amount: request.amount.amount, lines: [] };
    const left = soldLines.filter((l) => l.refunded < l.quantity);
    const lines = left.map((l) => ({ sku: l.sku, quantity: l.quantity - l.refunded, restock: request.restock ? l.quantity - l.refunded : 0 }));
    return { kind: 'planned', lines };
  }
  const wanted = new Map<string, number>();
  for (const line of request.lines) wanted.set(line.sku, (wanted.get(line.sku) ?? 0) + line.quantity);
  let amount = 0;
  const shortfalls: LineShortfall[] = [];
  for (const [sku, quantity] of wanted) {
    const paid = soldLines.find((l) => l.sku === sku);
    if (!paid) return rejected('invalid_request', `the order has no line ${sku}`, [{ field: 'lines', message: `unknown sku ${sku}` }]);
    const refundable = paid.quantity - paid.refunded;
    if (checkBounds && quantity > refundable) shortfalls.push({ sku, requested: quantity, refundable });
    amount += paid.unitPriceAmount * quantity;
  }
  if (shortfalls.length > 0) return exceedsSold(shortfalls);
  const lines = [...wanted].map(([sku, quantity]) => ({ sku, quantity, restock: request.restock ? quantity : 0 }));
  return { kind: 'planned', amount: request.amount?.amount ?? amount, lines };
}
