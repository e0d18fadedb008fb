/**
 * A checkout's lifecycle, defined once. Every other view of a checkout is derived from it:
 * the `CheckoutStatus` search attribute support filters by (the state itself), the step the
 * `status` query shows (each step belongs to one state), what the checkout row keeps for the
 * storefront's replay (`rowStatus`) and the status of the checkout's order (`orderStatus`).
 * The checkout workflow is the one owner that moves a checkout (docs/architecture.md).
 */
export const CHECKOUT_STATES = ['pending', 'placed', 'needs_attention', 'paid', 'failed', 'cancelled'] as const;
export type CheckoutState = (typeof CHECKOUT_STATES)[number];

/** Which state may follow which: after `placed` (the 201) only support ends a checkout unpaid. */
export const CHECKOUT_TRANSITIONS: Record<CheckoutState, readonly CheckoutState[]> = {
  pending: ['placed', 'failed', 'cancelled'],
  placed: ['paid', 'needs_attention'],
  needs_attention: ['placed', 'cancelled'],
  paid: [],
  failed: [],
  cancelled: [],
};

export function canMoveCheckout(from: CheckoutState, to: CheckoutState): boolean {
  return CHECKOUT_TRANSITIONS[from].includes(to);
}

/** The steps of the checkout workflow, each in the state it belongs to. */
export const CHECKOUT_STEPS = {
  claiming: 'pending',
  pricing: 'pending',
  holding_stock: 'pending',
  authorizing_payment: 'pending',
  // 3-D Secure or a processing payment: the storefront has its 202 with the next action
  awaiting_payment: 'pending',
  creating_order: 'pending',
  capturing_payment: 'placed',
  committing_stock: 'placed',
  needs_attention: 'needs_attention',
  clearing_cart: 'paid',
  sending_confirmation: 'paid',
  completed: 'paid',
  // compensation ends in failed or cancelled: it belongs to the state it leaves
  compensating: 'pending',
  // the customer has the failure; an authorization a lost workflow task may have sent is still being voided
  releasing_authorization: 'failed',
  failed: 'failed',
} as const satisfies Record<string, CheckoutState>;
export type CheckoutStep = keyof typeof CHECKOUT_STEPS;

/**
 * What the checkout row's status says: pending, placed (an order exists and stands) or
 * failed (it ended without being paid). The storefront's replay answers from the row: a
 * checkout that placed an order keeps answering its original 201 even when it later failed.
 */
export function rowStatus(state: CheckoutState): 'pending' | 'placed' | 'failed' {
  if (state === 'pending') return 'pending';
  return state === 'failed' || state === 'cancelled' ? 'failed' : 'placed';
}

/** The status the checkout's order has in each state (none before the order exists). */
export const ORDER_STATUS_OF = {
  pending: undefined,
  placed: 'placed',
  needs_attention: 'needs_attention',
  paid: 'paid',
  failed: 'failed',
  cancelled: 'cancelled',
} as const satisfies Record<CheckoutState, string | undefined>;
