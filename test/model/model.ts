import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import type { GatewayFaultMode } from '../../activities/gateways/local-gateway';
import type { HttpResult, Stack } from '../helpers/stack';
import type { RestartableWorker } from '../helpers/worker';

/**
 * The model of the model-based checkout test: what a run's commands may act on. It only
 * counts carts (commands pick a cart by index modulo the count); everything the system did
 * is read back from the real stores and the gateway ledger when the run is over.
 */
export interface Model {
  carts: number;
}

/** One POST /checkouts answer, as the storefront saw it. */
export interface CheckoutAnswer {
  status: number;
  orderId?: string;
  checkoutId?: string;
  code?: string;
  /** The order of the request among the run's requests (answers arrive out of order). */
  seq: number;
}

/** An Idempotency-Key used on a cart: its body is fixed at first use, as a client's retry would be. */
export interface KeyUse {
  cartId: string;
  key: string;
  paymentToken: string;
  answers: CheckoutAnswer[];
}

/** What the system under test is, for one run, and what the run's commands did. */
export interface Real {
  stack: Stack;
  worker: RestartableWorker;
  /** The run's products (fresh per run): [sku, unit price, units received]. */
  products: { sku: string; price: number; received: number }[];
  carts: { id: string; keys: KeyUse[] }[];
  /** Requests still in flight (background checkouts). */
  inFlight: Promise<unknown>[];
  /** 5xx answers seen (well-formed requests only): reported, and a violation. */
  serverErrors: string[];
  /** What each command did, for the failure report. */
  log: string[];
  seq: number;
  admin: Record<string, string>;
}

type Cmd = fc.AsyncCommand<Model, Real>;
const EMAIL = 'model@example.com';

function note(r: Real, what: string, res?: HttpResult): void {
  const code = errorCode(res);
  r.log.push(res ? `${what} → ${res.status}${code ? ` ${code}` : ''}` : what);
  if (res && res.status >= 500) r.serverErrors.push(`${what} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
}

/** The contract's error code (`{ error: { code } }`), if the answer is an error. */
export function errorCode(res?: HttpResult): string | undefined {
  const body = res?.body as { error?: { code?: string } } | undefined;
  return typeof body === 'object' && body ? body.error?.code : undefined;
}

const cartOf = (r: Real, index: number) => r.carts[index % r.carts.length] as Real['carts'][number];
/** A cart that has seen a checkout, if any (refunds, cancels and support act on those). */
const busyCartOf = (r: Real, index: number) => {
  const busy = r.carts.filter((c) => c.keys.length > 0);
  return busy.length ? (busy[index % busy.length] as Real['carts'][number]) : cartOf(r, index);
};

/** The newest order of a cart, with its lines, from the order store. */
async function latestOrder(r: Real, cartId: string, waitPaidMs = 0): Promise<{ id: string; lines: { sku: string; quantity: number }[] } | undefined> {
  const deadline = Date.now() + waitPaidMs;
  let row: { id?: string; status?: string } | undefined;
  for (;;) {
    const { rows } = await r.stack.dbs.order.execute(sql`select id, status from orders.orders where cart_id = ${cartId} order by created_at desc limit 1`);
    row = rows[0] as typeof row;
    if ((row && row.status !== 'placed') || Date.now() > deadline) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const id = row?.id;
  if (!id) return undefined;
  const lines = await r.stack.dbs.order.execute(sql`select sku, quantity from orders.order_lines where order_id = ${id} order by sku`);
  return { id, lines: lines.rows as { sku: string; quantity: number }[] };
}

/** Creates a cart with its lines (a command, and the run's opening carts). */
export async function createCart(r: Real, lines: { product: number; quantity: number }[]): Promise<void> {
    const cart = await r.stack.http('POST', '/carts', { body: { email: EMAIL } });
    note(r, `new cart #${r.carts.length}`, cart);
    const id = String(cart.body?.id ?? `missing-${r.carts.length}`);
    r.carts.push({ id, keys: [] });
    for (const l of lines) {
      const p = r.products[l.product % r.products.length] as Real['products'][number];
      note(r, `  PUT ${p.sku} × ${l.quantity}`, await r.stack.http('PUT', `/carts/${id}/lines/${p.sku}`, { body: { quantity: l.quantity } }));
    }
}

class NewCart implements Cmd {
  constructor(readonly lines: { product: number; quantity: number }[]) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.carts += 1;
    await createCart(r, this.lines);
  }
  toString = () => `NewCart(${this.lines.map((l) => `p${l.product}×${l.quantity}`).join(',')})`;
}

/** A cart write while its checkout may be running (the frozen cart refuses it with 409). */
class SetLine implements Cmd {
  constructor(readonly cart: number, readonly product: number, readonly quantity: number) {}
  check = (m: Readonly<Model>) => m.carts > 0;
  async run(_m: Model, r: Real): Promise<void> {
    const c = cartOf(r, this.cart);
    const p = r.products[this.product % r.products.length] as Real['products'][number];
    note(r, `cart ${c.id} PUT ${p.sku} × ${this.quantity}`, await r.stack.http('PUT', `/carts/${c.id}/lines/${p.sku}`, { body: { quantity: this.quantity } }));
  }
  toString = () => `SetLine(cart${this.cart}, p${this.product}, ${this.quantity})`;
}

class Checkout implements Cmd {
  constructor(
    readonly cart: number,
    /** undefined: a fresh key; n: the n-th key this cart already used (modulo). */
    readonly reuse: number | undefined,
    readonly duplicates: 1 | 2,
    readonly token: 'tok_visa' | 'tok_chargeDeclined',
    readonly background: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.carts > 0;
  async run(_m: Model, r: Real): Promise<void> {
    const c = cartOf(r, this.cart);
    let use = this.reuse !== undefined && c.keys.length > 0 ? c.keys[this.reuse % c.keys.length] : undefined;
    if (!use) {
      use = { cartId: c.id, key: `mk-${c.keys.length + 1}-${c.id.slice(-6)}`, paymentToken: this.token, answers: [] };
      c.keys.push(use);
    }
    const u = use;
    const send = async () => {
      const seq = ++r.seq;
      const res = await r.stack.http('POST', '/checkouts', {
        headers: { 'Idempotency-Key': u.key },
        body: { cartId: u.cartId, email: EMAIL, paymentToken: u.paymentToken },
      });
      const body = (res.body ?? {}) as { orderId?: string; checkoutId?: string; error?: { details?: { checkoutId?: string } } };
      u.answers.push({ status: res.status, orderId: body.orderId, checkoutId: body.checkoutId ?? body.error?.details?.checkoutId, code: errorCode(res), seq });
      note(r, `checkout ${u.cartId} key ${u.key} (#${seq})`, res);
    };
    const all = Promise.all(Array.from({ length: this.duplicates }, send));
    if (this.background) r.inFlight.push(all);
    else await all;
  }
  toString = () =>
    `Checkout(cart${this.cart}, ${this.reuse === undefined ? 'fresh key' : `key#${this.reuse}`}, ×${this.duplicates}, ${this.token}${this.background ? ', background' : ''})`;
}

type RefundKind = { kind: 'lines'; line: number; quantity: number; restock: boolean } | { kind: 'amount'; amount: number };

/** A support refund (admin credential), possibly several at once with distinct keys. */
class Refund implements Cmd {
  constructor(readonly cart: number, readonly what: RefundKind, readonly concurrent: number) {}
  check = (m: Readonly<Model>) => m.carts > 0;
  async run(_m: Model, r: Real): Promise<void> {
    const c = busyCartOf(r, this.cart);
    const order = await latestOrder(r, c.id, 3000);
    if (!order) return void note(r, `refund on cart ${c.id}: no order, skipped`);
    let body: Record<string, unknown>;
    if (this.what.kind === 'amount') {
      body = { amount: { amount: this.what.amount, currency: 'USD' }, reason: 'model: amount refund' };
    } else {
      const line = order.lines[this.what.line % order.lines.length] as { sku: string; quantity: number };
      body = { lines: [{ sku: line.sku, quantity: this.what.quantity }], restock: this.what.restock, reason: 'model: line refund' };
    }
    await Promise.all(
      Array.from({ length: this.concurrent }, async () => {
        const key = `mr-${++r.seq}`;
        const res = await r.stack.http('POST', `/orders/${order.id}/refunds`, { headers: { ...r.admin, 'Idempotency-Key': key }, body });
        note(r, `refund ${order.id} ${JSON.stringify(body.lines ?? body.amount)}${body.restock ? ' restock' : ''} key ${key}`, res);
      }),
    );
  }
  toString = () =>
    `Refund(cart${this.cart}, ${this.what.kind === 'amount' ? `amount ${this.what.amount}` : `line#${this.what.line} ×${this.what.quantity}${this.what.restock ? ' restock' : ''}`}, ×${this.concurrent})`;
}

/** Support's retry or cancel of a parked order (admin API); 409 when it is not parked. */
class Support implements Cmd {
  constructor(readonly cart: number, readonly action: 'retry' | 'cancel') {}
  check = (m: Readonly<Model>) => m.carts > 0;
  async run(_m: Model, r: Real): Promise<void> {
    const c = busyCartOf(r, this.cart);
    const order = await latestOrder(r, c.id);
    if (!order) return void note(r, `support ${this.action} on cart ${c.id}: no order, skipped`);
    const body = this.action === 'cancel' ? { reason: 'model: support cancel' } : undefined;
    note(r, `support ${this.action} ${order.id}`, await r.stack.http('POST', `/admin/orders/${order.id}/${this.action}`, { headers: r.admin, body }));
  }
  toString = () => `Support(cart${this.cart}, ${this.action})`;
}

/** A cancel request from the Temporal Web UI / CLI on the cart's checkout workflow. */
class TemporalCancel implements Cmd {
  constructor(readonly cart: number) {}
  check = (m: Readonly<Model>) => m.carts > 0;
  async run(_m: Model, r: Real): Promise<void> {
    const c = busyCartOf(r, this.cart);
    const outcome = await r.stack.temporal.workflow
      .getHandle(`checkout-${c.id}`)
      .cancel()
      .then(() => 'requested')
      .catch((err: unknown) => `not sent (${err instanceof Error ? err.name : String(err)})`);
    note(r, `Temporal cancel checkout-${c.id}: ${outcome}`);
  }
  toString = () => `TemporalCancel(cart${this.cart})`;
}

type GatewayOp = 'authorize' | 'capture' | 'void' | 'refund';

/** The local gateway fails its next call of one operation: 500, refused, or done with the reply lost. */
class GatewayFault implements Cmd {
  constructor(readonly mode: Exclude<GatewayFaultMode, 'timeout'>, readonly operation: GatewayOp) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    r.worker.gateway?.setFaults({ mode: this.mode, count: 1, operations: [this.operation] });
    note(r, `gateway: next ${this.operation} ${this.mode}`);
  }
  toString = () => `GatewayFault(${this.mode}, ${this.operation})`;
}

class RestartWorker implements Cmd {
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    await r.worker.restart();
    note(r, 'worker restarted');
  }
  toString = () => 'RestartWorker';
}

/** Lets running workflows move on, so the next command lands at another step. */
class Wait implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    await new Promise((res) => setTimeout(res, this.ms));
    note(r, `waited ${this.ms} ms`);
  }
  toString = () => `Wait(${this.ms})`;
}

export const PRODUCTS = [
  // a one-unit cheap line, a dearer line, a scarce mid-priced one
  { price: 450, received: 3 },
  { price: 2500, received: 6 },
  { price: 1000, received: 2 },
];

const product = fc.nat(PRODUCTS.length - 1);
/** A cart's lines: one or two, of one or two units. */
export const cartLines = fc.array(fc.record({ product, quantity: fc.integer({ min: 1, max: 2 }) }), { minLength: 1, maxLength: 2 });

export function commandArbitraries(): fc.Arbitrary<Cmd>[] {
  const cart = fc.nat(7);
  const newCart = cartLines.map((lines) => new NewCart(lines));
  const checkout = fc
    .tuple(cart, fc.option(fc.nat(3), { freq: 3 }), fc.constantFrom<1 | 2>(1, 1, 2), fc.constantFrom<'tok_visa' | 'tok_chargeDeclined'>('tok_visa', 'tok_visa', 'tok_visa', 'tok_chargeDeclined'), fc.boolean())
    .map(([c, reuse, dup, token, bg]) => new Checkout(c, reuse ?? undefined, dup, token, bg));
  // carts and checkouts weigh more: most other commands act on them
  const lineRefund = fc.tuple(cart, fc.nat(3), fc.constantFrom(1, 1, 3)).map(([c, line, n]) => new Refund(c, { kind: 'lines', line, quantity: 1, restock: true }, n));
  return [
    newCart,
    newCart,
    checkout,
    checkout,
    checkout,
    lineRefund,
    fc.tuple(cart, product, fc.integer({ min: 0, max: 3 })).map(([c, p, q]) => new SetLine(c, p, q)),
    checkout,
    lineRefund,
    fc
      .tuple(cart, fc.oneof(fc.record({ kind: fc.constant('lines' as const), line: fc.nat(3), quantity: fc.integer({ min: 1, max: 2 }), restock: fc.boolean() }), fc.record({ kind: fc.constant('amount' as const), amount: fc.constantFrom(100, 450, 2500) })), fc.integer({ min: 1, max: 2 }))
      .map(([c, what, n]) => new Refund(c, what, n)),
    fc.tuple(cart, fc.constantFrom<'retry' | 'cancel'>('retry', 'cancel')).map(([c, a]) => new Support(c, a)),
    cart.map((c) => new TemporalCancel(c)),
    fc
      .tuple(fc.constantFrom<Exclude<GatewayFaultMode, 'timeout'>>('500', 'lost', 'lost', 'reject'), fc.constantFrom<GatewayOp>('authorize', 'capture', 'void', 'refund'))
      .map(([mode, op]) => new GatewayFault(mode, op)),
    fc.constant(new RestartWorker()),
    fc.integer({ min: 100, max: 1500 }).map((ms) => new Wait(ms)),
  ];
}
