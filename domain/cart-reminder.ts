/** What one reminder attempt does: send, or a reason to stop, to move the clock or to say nothing now. */
export type ReminderDecision =
  | { status: 'send' }
  | { status: 'skipped_unavailable' }
  | { status: 'stop'; reason: 'no_cart' | 'emptied' | 'opted_out' | 'unknown_address' }
  | { status: 'stale'; version: number; updatedAt: number };

/** What the stores say at send time (the cart, its owner's opt-out, its lines' stock). */
export interface ReminderFacts {
  cart: { email?: string; lineCount: number; version: number; updatedAt: number } | null;
  /** The cart version the reminder clock runs from. */
  clockVersion: number;
  optedOut: boolean;
  /** What makes the address one we may mail (see mayRemind). */
  address: AddressStanding;
  /** Some line can be bought now. */
  anyAvailable: boolean;
}

/** Why an address may get reminders: it placed an order before, or a customer account owns it (or the cart). */
export interface AddressStanding {
  hasPriorOrder: boolean;
  ownedByAccount: boolean;
}

/**
 * Reminders go only to an address that is known: one that placed an order before, or one a
 * customer account owns. Anyone can create a cart with any address; without this rule the shop
 * would mail strangers on their behalf.
 */
export function mayRemind(a: AddressStanding): boolean {
  return a.hasPriorOrder || a.ownedByAccount;
}

/**
 * The rule, decided from the stores at send time rather than from the workflow's memory: no
 * cart (or no address) or an emptied (checked-out) cart stops the reminders, a newer cart
 * version restarts the clock, an opt-out or an address we may not mail (mayRemind) stops them, nothing in stock says nothing this time.
 */
export function decideReminder(f: ReminderFacts): ReminderDecision {
  if (!f.cart || !f.cart.email) return { status: 'stop', reason: 'no_cart' };
  if (f.cart.lineCount === 0) return { status: 'stop', reason: 'emptied' };
  if (f.cart.version !== f.clockVersion) return { status: 'stale', version: f.cart.version, updatedAt: f.cart.updatedAt };
  if (f.optedOut) return { status: 'stop', reason: 'opted_out' };
  if (!mayRemind(f.address)) return { status: 'stop', reason: 'unknown_address' };
  if (!f.anyAvailable) return { status: 'skipped_unavailable' };
  return { status: 'send' };
}
