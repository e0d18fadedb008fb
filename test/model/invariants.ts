import { sql, type SQL } from 'drizzle-orm';
import { checkoutStatusQuery, refundStatusQuery } from '../../workflows/messages';
import type { Real } from './model';

/** Order statuses meaning "the customer paid for this order" (refunds included). */
const PAID = ['paid', 'fulfilled', 'partially_refunded', 'refunded'];
const PARKED = 'needs_attention';

const list = (values: string[]) => sql.join(values.map((v) => sql`${v}`), sql`, `);

async function rows<T>(r: Real, q: SQL): Promise<T[]> {
  return (await r.stack.dbs.order.execute(q)).rows as T[];
}

/** 'closed' (or never started), 'parked' (running, waiting for support) or 'running'. */
async function workflowState(r: Real, workflowId: string, query: typeof checkoutStatusQuery | typeof refundStatusQuery): Promise<'closed' | 'parked' | 'running'> {
  const handle = r.stack.temporal.workflow.getHandle(workflowId);
  const d = await handle.describe().catch(() => undefined);
  if (!d || d.status.name !== 'RUNNING') return 'closed';
  const view = await handle.query<{ step: string }>(query as typeof checkoutStatusQuery).catch(() => undefined);
  return view?.step === PARKED ? 'parked' : 'running';
}
const workflowSettled = async (r: Real, workflowId: string, query: typeof checkoutStatusQuery | typeof refundStatusQuery) =>
  (await workflowState(r, workflowId, query)) !== 'running';

/**
 * Waits (bounded) until every checkout and refund of the run is terminal or parked for
 * support. Returns what is still moving when the bound runs out (empty when settled).
 */
export async function settle(r: Real, boundMs: number): Promise<string[]> {
  const deadline = Date.now() + boundMs;
  const cartIds = r.carts.map((c) => c.id);
  for (;;) {
    const moving: string[] = [];
    if (cartIds.length) {
      for (const id of cartIds) if (!(await workflowSettled(r, `checkout-${id}`, checkoutStatusQuery))) moving.push(`checkout workflow of cart ${id} still running`);
      const refunds = await rows<{ id: string }>(r, sql`select r.id from payment.refunds r join orders.orders o on o.id = r.order_id where o.cart_id in (${list(cartIds)}) and r.status = 'pending'`);
      for (const { id } of refunds) if (!(await workflowSettled(r, `refund-${id}`, refundStatusQuery))) moving.push(`refund ${id} pending, its workflow not parked`);
      // a claimed checkout still pending, or an order still waiting for its capture, needs a live (or parked) workflow
      const stuck = await rows<{ checkout_id: string; cart_id: string; status: string; order_status: string | null }>(
        r,
        sql`select c.checkout_id, c.cart_id, c.status, o.status as order_status from orders.checkouts c left join orders.orders o on o.checkout_id = c.checkout_id
          where c.cart_id in (${list(cartIds)}) and c.run_id is not null and (c.status = 'pending' or o.status = 'placed')`,
      );
      for (const s of stuck) if ((await workflowState(r, `checkout-${s.cart_id}`, checkoutStatusQuery)) !== 'parked') moving.push(`checkout ${s.checkout_id} is ${s.status} (order ${s.order_status ?? 'none'})`);
    }
    if (moving.length === 0 || Date.now() > deadline) return moving;
    await new Promise((res) => setTimeout(res, 300));
  }
}

/**
 * The invariants of PRODUCT.md, read back from the stores and the local gateway's ledger,
 * over this run's carts and products. Returns the violations (empty when all hold).
 */
export async function checkInvariants(r: Real): Promise<string[]> {
  const v: string[] = [];
  const cartIds = r.carts.map((c) => c.id);
  const skus = r.products.map((p) => p.sku);
  if (cartIds.length === 0) return v;
  const carts = list(cartIds);
  const checkouts = sql`(select checkout_id from orders.checkouts where cart_id in (${carts}))`;

  // 1. one order per checkout and per key: every 201 for a key names the same order, and the
  //    replay of the key after the run answers that same 201.
  for (const c of r.carts) {
    for (const k of c.keys) {
      const placed = new Set(k.answers.filter((a) => a.status === 201).map((a) => a.orderId));
      if (placed.size > 1) v.push(`key ${k.key} on cart ${c.id}: two orders answered for one key (${[...placed].join(', ')})`);
      const [row] = await rows<{ order_id: string | null }>(r, sql`select o.id as order_id from orders.checkouts ch left join orders.orders o on o.checkout_id = ch.checkout_id
        where ch.cart_id = ${c.id} and ch.idempotency_key = ${k.key}`);
      const first = [...placed][0] ?? row?.order_id ?? undefined;
      if (!first) continue;
      const replay = await r.stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': k.key }, body: { cartId: k.cartId, email: 'model@example.com', paymentToken: k.paymentToken } });
      if (replay.status !== 201 || replay.body?.orderId !== first) {
        v.push(`key ${k.key} on cart ${c.id}: placed order ${first} once, the replay of the same POST now answers ${replay.status} ${JSON.stringify(replay.body).slice(0, 160)}`);
      }
    }
  }
  const twice = await rows<{ checkout_id: string; n: number }>(r, sql`select checkout_id, count(*)::int as n from orders.orders where cart_id in (${carts}) group by 1 having count(*) > 1`);
  for (const t of twice) v.push(`checkout ${t.checkout_id} has ${t.n} orders`);

  // 2. no oversell; stock moves only by holds, sales and restocks
  const stock = await rows<{ sku: string; on_hand: number; reserved: number; sold: number; held: number; committed: number; restocked: number }>(
    r,
    sql`select s.sku, s.on_hand, s.reserved, s.sold,
        (select coalesce(sum(h.quantity), 0)::int from inventory.holds h where h.sku = s.sku and h.status = 'held') as held,
        (select coalesce(sum(h.quantity), 0)::int from inventory.holds h where h.sku = s.sku and h.status = 'committed') as committed,
        (select coalesce(sum(x.quantity), 0)::int from inventory.restocks x where x.sku = s.sku) as restocked
      from inventory.stock s where s.sku in (${list(skus)})`,
  );
  for (const s of stock) {
    const received = r.products.find((p) => p.sku === s.sku)?.received ?? NaN;
    const line = `sku ${s.sku} (received ${received}, on_hand ${s.on_hand}, reserved ${s.reserved}, sold ${s.sold}, held ${s.held}, committed ${s.committed}, restocked ${s.restocked})`;
    if (s.on_hand < 0 || s.reserved > s.on_hand) v.push(`oversold: ${line}`);
    if (s.reserved !== s.held) v.push(`reserved ≠ units in live holds: ${line}`);
    if (s.on_hand !== received - s.committed + s.restocked) v.push(`phantom stock: on_hand ≠ received − sold + restocked: ${line}`);
    if (s.restocked > s.committed) v.push(`restocked more than was sold: ${line}`);
    // restocking may or may not lower `sold`; either way on_hand + sold ≤ received + restocked
    if (s.sold !== s.committed - s.restocked && s.sold !== s.committed) v.push(`sold counter off: ${line}`);
  }
  // stock committed exactly for paid orders, and as their lines say
  const holdVsLines = await rows<{ checkout_id: string; order_status: string | null; sku: string; sold: number | null; committed: number | null }>(
    r,
    sql`select c.checkout_id, o.status as order_status, coalesce(l.sku, h.sku) as sku, l.quantity as sold, h.quantity as committed
      from orders.checkouts c left join orders.orders o on o.checkout_id = c.checkout_id
      left join orders.order_lines l on l.order_id = o.id
      full join (select hold_id, sku, quantity from inventory.holds where status = 'committed') h on h.hold_id = c.checkout_id and h.sku = l.sku
      where c.cart_id in (${carts})`,
  );
  for (const h of holdVsLines) {
    const paid = h.order_status !== null && PAID.includes(h.order_status);
    if (paid && h.sold !== h.committed) v.push(`paid order of checkout ${h.checkout_id}: ${h.sku} sold ${h.sold ?? 0} but committed ${h.committed ?? 0}`);
    if (!paid && h.order_status !== PARKED && (h.committed ?? 0) > 0) v.push(`checkout ${h.checkout_id} (order ${h.order_status ?? 'none'}): ${h.committed} of ${h.sku} sold without a paid order`);
  }

  // 3 + 4 + 5. money: the gateway's ledger against orders and our payment rows
  const payments = await rows<{
    checkout_id: string; ref: string; authorized: number; captured: number; refunded: number; voided: boolean;
    checkout_status: string; order_status: string | null; total: number | null;
    p_authorized: number | null; p_captured: number | null; p_refunded: number | null; p_pending: number | null; p_status: string | null;
  }>(
    r,
    sql`select g.checkout_id, g.ref, g.authorized::int, g.captured::int, g.refunded::int, g.voided, c.status as checkout_status, o.status as order_status, o.total_amount::int as total,
        p.authorized_amount::int as p_authorized, p.captured_amount::int as p_captured, p.refunded_amount::int as p_refunded, p.refund_pending_amount::int as p_pending, p.status as p_status
      from (select a.payment_ref as ref, split_part(a.idempotency_key, '/', 2) as checkout_id, a.amount as authorized,
          coalesce((select sum(x.amount) from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation = 'capture'), 0) as captured,
          coalesce((select sum(x.amount) from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation = 'refund'), 0) as refunded,
          exists (select 1 from local_gateway.operations x where x.payment_ref = a.payment_ref and x.operation = 'void') as voided
        from local_gateway.operations a
        where a.operation = 'authorize' and a.outcome = 'authorized' and split_part(a.idempotency_key, '/', 2) in ${checkouts}) g
      join orders.checkouts c on c.checkout_id = g.checkout_id
      left join orders.orders o on o.checkout_id = g.checkout_id
      left join payment.payments p on p.gateway_ref = g.ref`,
  );
  for (const p of payments) {
    const at = `checkout ${p.checkout_id} (checkout ${p.checkout_status}, order ${p.order_status ?? 'none'}; gateway authorized ${p.authorized} captured ${p.captured} refunded ${p.refunded}${p.voided ? ' voided' : ''})`;
    const paid = p.order_status !== null && PAID.includes(p.order_status);
    const parked = p.order_status === PARKED;
    if (p.captured > p.refunded && !paid && !parked) v.push(`charge without an order: ${at}`);
    if (!paid && !parked && (p.checkout_status === 'failed' || p.order_status !== null) && p.captured === 0 && !p.voided) v.push(`authorization of a failed checkout left open: ${at}`);
    if (paid && (p.captured !== p.total || p.authorized !== p.total)) v.push(`paid order charged other than its total ${p.total}: ${at}`);
    if (p.refunded > p.captured) v.push(`refunded more than captured: ${at}`);
    if (p.p_authorized === null) v.push(`ledger ≠ gateway: no payment row for ${at}`);
    else if (p.p_authorized !== p.authorized || p.p_captured !== p.captured || p.p_refunded !== p.refunded || (p.p_status === 'voided') !== p.voided) {
      v.push(`ledger ≠ gateway: ours authorized ${p.p_authorized} captured ${p.p_captured} refunded ${p.p_refunded} ${p.p_status} for ${at}`);
    }
    if (p.p_captured !== null && (p.p_refunded ?? 0) + (p.p_pending ?? 0) > p.p_captured) v.push(`our ledger refunds more than captured: ${at}`);
  }
  const unpaidPaid = await rows<{ id: string; checkout_id: string }>(
    r,
    sql`select o.id, o.checkout_id from orders.orders o where o.cart_id in (${carts}) and o.status in (${list(PAID)})
      and not exists (select 1 from local_gateway.operations x where split_part(x.idempotency_key, '/', 2) = o.checkout_id and x.operation = 'capture')`,
  );
  for (const o of unpaidPaid) v.push(`order ${o.id} is paid but the gateway captured nothing`);

  // 6. per line: refunded ≤ sold, restocked ≤ refunded (summed over every refund of the order)
  const lines = await rows<{ order_id: string; sku: string; quantity: number; refunded: number; restocked: number }>(
    r,
    sql`select l.order_id, l.sku, l.quantity,
        coalesce((select sum((e->>'quantity')::int) from payment.refunds x cross join jsonb_array_elements(coalesce(x.lines, '[]'::jsonb)) e
          where x.order_id = l.order_id and x.status = 'succeeded' and e->>'sku' = l.sku), 0)::int as refunded,
        coalesce((select sum(s.quantity) from inventory.restocks s where s.sku = l.sku and s.restock_id in (select x.id from payment.refunds x where x.order_id = l.order_id)), 0)::int as restocked
      from orders.order_lines l join orders.orders o on o.id = l.order_id where o.cart_id in (${carts})`,
  );
  for (const l of lines) {
    if (l.refunded > l.quantity) v.push(`order ${l.order_id} line ${l.sku}: refunded ${l.refunded} of ${l.quantity} sold`);
    if (l.restocked > l.refunded) v.push(`order ${l.order_id} line ${l.sku}: restocked ${l.restocked} of ${l.refunded} refunded`);
  }

  // 7. a paid order's checkout is not failed (store and CheckoutStatus search attribute)
  const paidCheckouts = await rows<{ order_id: string; checkout_id: string; status: string; workflow_id: string; run_id: string | null }>(
    r,
    sql`select o.id as order_id, c.checkout_id, c.status, c.workflow_id, c.run_id from orders.orders o join orders.checkouts c on c.checkout_id = o.checkout_id
      where o.cart_id in (${carts}) and o.status in (${list(PAID)})`,
  );
  for (const c of paidCheckouts) {
    if (c.status === 'failed') v.push(`order ${c.order_id} is paid, its checkout ${c.checkout_id} is marked failed`);
    if (!c.run_id) continue;
    const d = await r.stack.temporal.workflow.getHandle(c.workflow_id, c.run_id).describe().catch(() => undefined);
    const attr = d?.searchAttributes?.CheckoutStatus?.[0];
    if (attr === 'failed' || attr === 'cancelled') v.push(`order ${c.order_id} is paid, CheckoutStatus=${String(attr)} in Temporal`);
  }

  // 8. no live stock hold for a terminal checkout
  const held = await rows<{ hold_id: string; sku: string; status: string; order_status: string | null }>(
    r,
    sql`select h.hold_id, h.sku, c.status, o.status as order_status from inventory.holds h join orders.checkouts c on c.checkout_id = h.hold_id
      left join orders.orders o on o.checkout_id = c.checkout_id
      where c.cart_id in (${carts}) and h.status = 'held' and (c.status = 'failed' or o.status in (${list([...PAID, 'failed', 'cancelled'])}))`,
  );
  for (const h of held) v.push(`hold ${h.hold_id} ${h.sku} still held for a terminal checkout (${h.status}, order ${h.order_status ?? 'none'})`);

  return v;
}
