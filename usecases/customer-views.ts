import type { Payment } from '../db/schema/payment';
import { customerCartIds, type CartStore } from '../db/stores/cart';
import { customerOrderIds, loadOrders, type OrderView } from '../db/stores/order-views';
import { getPaymentsByCheckouts } from '../db/stores/payments';
import { ownerOf } from '../domain/ownership';
import { pricedCart } from './change-cart';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

const MAX_BIGINT = 2n ** 63n - 1n;

/** Cursors are opaque to the client: base64url of "<created_at in µs>.<order id>". */
const encodeCursor = (at: { micros: string; id: string }) => Buffer.from(`${at.micros}.${at.id}`).toString('base64url');
function decodeCursor(cursor: string): { micros: string; id: string } | undefined {
  const match = /^(\d{1,20})\.(ord_[A-Za-z0-9_-]{22})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  // a bigint in PostgreSQL: a crafted larger number is not a cursor (400), never an overflow (500)
  if (!match || BigInt(match[1] as string) > MAX_BIGINT) return undefined;
  return { micros: match[1] as string, id: match[2] as string };
}

/** GET /me/orders: the customer's orders, newest first, a page at a time. */
export async function listCustomerOrders(
  { dbs }: Pick<UseCaseDeps, 'dbs'>,
  customerId: string,
  query: { limit: number; cursor?: string },
): Promise<{ kind: 'page'; orders: { order: OrderView; payment: Payment | undefined }[]; nextCursor?: string } | Rejected> {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (query.cursor !== undefined && !after) return rejected('invalid_request', 'not a cursor of this list', [{ field: 'cursor', message: 'a nextCursor of a previous page' }]);
  const page = await customerOrderIds(dbs.order, customerId, { limit: query.limit, after });
  const byId = new Map((await loadOrders(dbs.order, page.ids)).map((o) => [o.id, o]));
  const orders = page.ids.flatMap((id) => byId.get(id) ?? []);
  const payments = await getPaymentsByCheckouts(dbs.payment, orders.map((o) => o.checkoutId));
  return { kind: 'page', orders: orders.map((order) => ({ order, payment: payments.get(order.checkoutId) })), ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}) };
}

/** GET /me/carts: the customer's live carts, most recently changed first, priced now. */
export async function listCustomerCarts({ dbs, carts }: Pick<UseCaseDeps, 'dbs'> & { carts: CartStore }, customerId: string) {
  const found = await Promise.all((await customerCartIds(dbs.cart, customerId)).map((id) => carts.get(id)));
  const mine = found.flatMap((cart) => (cart && ownerOf(cart.customerId) === customerId ? [cart] : []));
  return { kind: 'carts' as const, carts: await Promise.all(mine.map((cart) => pricedCart({ dbs }, cart))) };
}
