import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import type { Databases } from '../db/client';
import type { Call } from './fault-scenarios';

/**
 * The fault harness's audit of one scenario, from the stores and the gateway's own ledger
 * (local_gateway.operations): every column named in BAD must be 0.
 */

/** Order statuses that mean "the customer paid for this order" (refunds included). */
const PAID = sql`('paid', 'fulfilled', 'partially_refunded', 'refunded')`;

export interface AuditInput {
  name: string;
  carts: string[];
  sku: string;
  skuB: string;
  /** Units each product received before the load. */
  units: number;
  unitsB: number;
  /** Checkouts still not terminal when the bound passed. */
  pending: number;
  refundAttempts: number;
  /** Checkouts answered `placed`, by cart index. */
  placed: Map<number, { checkoutId: string; orderId: string }>;
}

export async function auditScenario(dbs: Databases, client: Client, call: Call, input: AuditInput) {
  const { carts, sku, skuB, units, unitsB } = input;
  const cartList = sql.join(carts.map((c) => sql`${c}`), sql`, `);
  const one = async (q: ReturnType<typeof sql>) => Number(((await dbs.order.execute(q)).rows[0] as { n: number }).n);
  const checkouts = sql`(select checkout_id from orders.checkouts where cart_id in (${cartList}))`;
  const orderIds = sql`(select id from orders.orders where cart_id in (${cartList}))`;
  const skus = sql`(${sku}, ${skuB})`;
  const received = sql`(case s.sku when ${sku} then ${units}::int else ${unitsB}::int end)`;
  /** Per gateway payment of these checkouts: what the gateway's own ledger says happened. */
  const gatewayPayments = sql`(select a.payment_ref, split_part(a.idempotency_key, '/', 2) as checkout_id, a.amount as authorized,
      coalesce((select sum(x.amount) from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation = 'capture'), 0) as captured,
      coalesce((select sum(x.amount) from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation = 'refund'), 0) as refunded,
      exists (select 1 from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation = 'void') as voided
    from local_gateway.operations a
    where a.operation = 'authorize' and a.outcome = 'authorized' and split_part(a.idempotency_key, '/', 2) in ${checkouts})`;
  /** Units refunded per order line, summed over the order's succeeded refunds (payment.refunds.lines). */
  const refundedLines = sql`(select r.order_id, l->>'sku' as sku, sum((l->>'quantity')::int) as refunded
    from payment.refunds r cross join jsonb_array_elements(coalesce(r.lines, '[]'::jsonb)) l
    where r.status = 'succeeded' and r.order_id in ${orderIds} group by 1, 2)`;
  const audit = {
    scenario: input.name,
    seconds: 0,
    started: await one(sql`select count(*)::int as n from orders.checkouts where cart_id in (${cartList})`),
    placed: await one(sql`select count(*)::int as n from orders.orders where cart_id in (${cartList}) and status in ${PAID}`),
    failed: await one(sql`select count(*)::int as n from orders.checkouts where cart_id in (${cartList}) and status = 'failed'`),
    parked: await one(sql`select count(*)::int as n from orders.orders where cart_id in (${cartList}) and status = 'needs_attention'`),
    notTerminal: input.pending,
    refunds: input.refundAttempts,
    ordersWithoutCapture: await one(sql`select count(*)::int as n from orders.orders o left join payment.payments p on p.checkout_id = o.checkout_id
      where o.cart_id in (${cartList}) and o.status in ${PAID} and coalesce(p.captured_amount, 0) = 0`),
    authorizationsWithoutOrder: await one(sql`select count(*)::int as n from local_gateway.operations a
      where a.operation = 'authorize' and a.outcome = 'authorized' and split_part(a.idempotency_key, '/', 2) in ${checkouts}
        and not exists (select 1 from orders.orders o where o.checkout_id = split_part(a.idempotency_key, '/', 2) and o.status in ${PAID})
        and not exists (select 1 from orders.orders o where o.checkout_id = split_part(a.idempotency_key, '/', 2) and o.status = 'needs_attention')
        and not exists (select 1 from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation in ('void', 'capture'))`),
    capturesWithoutOrder: await one(sql`select count(*)::int as n from ${gatewayPayments} g
      where g.captured > g.refunded
        and not exists (select 1 from orders.orders o where o.checkout_id = g.checkout_id and o.status in ${PAID})`),
    doubleCharges: await one(sql`select count(*)::int as n from (
        select split_part(idempotency_key, '/', 2) as checkout_id from local_gateway.operations
        where operation in ('authorize', 'capture') and outcome <> 'declined' and split_part(idempotency_key, '/', 2) in ${checkouts}
        group by 1, operation having count(*) > 1) d`),
    /** A paid order charged other than its total (a re-run that re-priced a changed cart). */
    chargeMismatch: await one(sql`select count(*)::int as n from orders.orders o join ${gatewayPayments} g on g.checkout_id = o.checkout_id
      where o.cart_id in (${cartList}) and o.status in ${PAID} and (g.authorized <> o.total_amount or g.captured <> o.total_amount
        or o.total_amount <> (select coalesce(sum(l.line_total_amount), 0) from orders.order_lines l where l.order_id = o.id))`),
    /** Paid orders whose committed stock holds differ from their lines, and holds committed for an order not paid. */
    orderHoldMismatch: await one(sql`select count(*)::int as n from orders.checkouts c left join orders.orders o on o.checkout_id = c.checkout_id
      where c.cart_id in (${cartList}) and (
        (o.status in ${PAID} and exists (
          select 1 from (select l.sku, l.quantity from orders.order_lines l where l.order_id = o.id) ol
          full join (select h.sku, h.quantity from inventory.holds h where h.hold_id = c.checkout_id and h.status = 'committed') ch on ch.sku = ol.sku
          where ol.quantity is distinct from ch.quantity))
        or ((o.status is null or o.status not in ${PAID}) and o.status is distinct from 'needs_attention'
          and exists (select 1 from inventory.holds h where h.hold_id = c.checkout_id and h.status = 'committed')))`),
    oversold: await one(sql`select count(*)::int as n from inventory.stock s where s.sku in ${skus} and (s.on_hand + s.sold <> ${received} or s.on_hand < 0 or s.reserved > s.on_hand)`),
    /** Stock that is neither on hand, nor sold, nor returned: on_hand ≠ received − committed sales + restocks, or more restocked than sold. */
    phantomStock: await one(sql`select count(*)::int as n from inventory.stock s,
        lateral (select coalesce(sum(h.quantity), 0)::int as committed from inventory.holds h where h.sku = s.sku and h.status = 'committed') c,
        lateral (select coalesce(sum(r.quantity), 0)::int as restocked from inventory.restocks r where r.sku = s.sku) r
      where s.sku in ${skus} and (s.on_hand <> ${received} - c.committed + r.restocked or r.restocked > c.committed)`),
    soldMismatch: await one(sql`select count(*)::int as n from inventory.stock s where s.sku in ${skus} and s.sold + coalesce((select sum(r.quantity) from inventory.restocks r where r.sku = s.sku), 0)
      <> (select coalesce(sum(l.quantity), 0) from orders.order_lines l join orders.orders o on o.id = l.order_id
        where o.cart_id in (${cartList}) and o.status in ${PAID} and l.sku = s.sku)`),
    holdsLeaked: await one(sql`select count(*)::int as n from inventory.holds where sku in ${skus} and status = 'held'`),
    refundsOverCapture: await one(sql`select count(*)::int as n from payment.payments where checkout_id in ${checkouts} and refunded_amount + refund_pending_amount > captured_amount`),
    /** Per order line: units refunded (summed over refunds) above units sold, or units restocked above units refunded. */
    refundedOverSold: await one(sql`select count(*)::int as n from orders.order_lines l
      left join ${refundedLines} rl on rl.order_id = l.order_id and rl.sku = l.sku
      where l.order_id in ${orderIds} and (coalesce(rl.refunded, 0) > l.quantity
        or coalesce((select sum(x.quantity) from inventory.restocks x where x.sku = l.sku
          and x.restock_id in (select r.id from payment.refunds r where r.order_id = l.order_id)), 0) > coalesce(rl.refunded, 0))`),
    /** Our payment rows against the gateway's ledger: authorized / captured / refunded / voided per payment ref. */
    ledgerVsGateway: await one(sql`select count(*)::int as n from ${gatewayPayments} g left join payment.payments p on p.gateway_ref = g.payment_ref
      where p.id is null or p.authorized_amount <> g.authorized or p.captured_amount <> g.captured or p.refunded_amount <> g.refunded
        or (p.status = 'voided') <> g.voided`),
    /** An order paid (or refunded) whose checkout says failed. */
    paidMarkedFailed: await one(sql`select count(*)::int as n from orders.orders o join orders.checkouts c on c.checkout_id = o.checkout_id
      where o.cart_id in (${cartList}) and o.status in ${PAID} and c.status = 'failed'`),
    /** An order answered `placed` (201) that did not end paid (or parked): a point of no return crossed back. */
    placedThenUndone: 0,
    cartsLost: 0,
  };
  // CheckoutStatus=failed in Temporal for a paid order (what support sees in the Web UI)
  const paidRuns = (await dbs.order.execute(sql`select c.workflow_id, c.run_id from orders.orders o join orders.checkouts c on c.checkout_id = o.checkout_id
    where o.cart_id in (${cartList}) and o.status in ${PAID} and c.run_id is not null`)).rows as { workflow_id: string; run_id: string }[];
  for (const r of paidRuns) {
    const d = await client.workflow.getHandle(r.workflow_id, r.run_id).describe().catch(() => undefined);
    const status = d?.searchAttributes?.CheckoutStatus?.[0];
    if (status === 'failed' || status === 'cancelled') audit.paidMarkedFailed++;
  }
  const answered = [...input.placed.values()].map((p) => p.orderId);
  if (answered.length) {
    audit.placedThenUndone = await one(sql`select count(*)::int as n from orders.orders where id in (${sql.join(answered.map((id) => sql`${id}`), sql`, `)})
      and status not in ${PAID} and status <> 'needs_attention'`);
  }
  for (const cartId of carts) if ((await call('GET', `/carts/${cartId}`)).status !== 200) audit.cartsLost++;
  return audit;
}

export const BAD = [
  'notTerminal', 'ordersWithoutCapture', 'authorizationsWithoutOrder', 'capturesWithoutOrder', 'doubleCharges', 'chargeMismatch', 'orderHoldMismatch',
  'oversold', 'phantomStock', 'soldMismatch', 'holdsLeaked', 'refundsOverCapture', 'refundedOverSold', 'ledgerVsGateway', 'paidMarkedFailed',
  'placedThenUndone', 'cartsLost',
] as const;
