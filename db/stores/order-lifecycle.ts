/**
 * The one definition of order states and the transitions between them. Every change of
 * an order's status goes through `transitionOrder` (db/stores/orders.ts), which refuses
 * a transition not listed here and writes a status-history row for each one it makes.
 */
export const ORDER_STATUSES = [
  'placed',
  'paid',
  'fulfilled',
  'partially_refunded',
  'refunded',
  'cancelled',
  'failed',
  'needs_attention',
] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  placed: ['paid', 'failed', 'cancelled', 'needs_attention'],
  paid: ['fulfilled', 'partially_refunded', 'refunded', 'cancelled', 'needs_attention'],
  fulfilled: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded'],
  needs_attention: ['placed', 'paid', 'failed', 'cancelled'],
  refunded: [],
  cancelled: [],
  failed: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

/** The states an order can be in to move to `to`. */
export function statusesLeadingTo(to: OrderStatus): OrderStatus[] {
  return ORDER_STATUSES.filter((from) => canTransition(from, to));
}

export class IllegalOrderTransition extends Error {
  constructor(
    readonly orderId: string,
    readonly from: string,
    readonly to: OrderStatus,
  ) {
    super(`order ${orderId} cannot go from ${from} to ${to}`);
    this.name = 'IllegalOrderTransition';
  }
}
