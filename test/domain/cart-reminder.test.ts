import { decideReminder, mayRemind, type ReminderFacts } from '../../domain/cart-reminder';

const cart = { email: 'a@example.com', lineCount: 2, version: 3, updatedAt: 1_000 };
const facts = (p: Partial<ReminderFacts> = {}): ReminderFacts => ({ cart, clockVersion: 3, optedOut: false, address: { hasPriorOrder: true, ownedByAccount: false }, anyAvailable: true, ...p });

describe('cart reminder rule (decided from the stores at send time)', () => {
  it.each<[string, ReminderFacts, ReturnType<typeof decideReminder>]>([
    ['a cart that is gone stops the reminders', facts({ cart: null }), { status: 'stop', reason: 'no_cart' }],
    ['a cart without an address stops them', facts({ cart: { ...cart, email: undefined } }), { status: 'stop', reason: 'no_cart' }],
    ['an emptied (checked-out) cart stops them', facts({ cart: { ...cart, lineCount: 0 } }), { status: 'stop', reason: 'emptied' }],
    ['a newer cart version restarts the clock from its change', facts({ clockVersion: 2 }), { status: 'stale', version: 3, updatedAt: 1_000 }],
    ['an opt-out stops them', facts({ optedOut: true }), { status: 'stop', reason: 'opted_out' }],
    ['nothing in stock says nothing this time', facts({ anyAvailable: false }), { status: 'skipped_unavailable' }],
    ['otherwise the reminder goes', facts(), { status: 'send' }],
    ['an address that never ordered and no account owns stops them: no mailing strangers', facts({ address: { hasPriorOrder: false, ownedByAccount: false } }), { status: 'stop', reason: 'unknown_address' }],
    ['an address an account owns is mailed without a prior order', facts({ address: { hasPriorOrder: false, ownedByAccount: true } }), { status: 'send' }],
    ['an emptied cart stops even when the version moved (checkout cleared it)', facts({ cart: { ...cart, lineCount: 0, version: 9 } }), { status: 'stop', reason: 'emptied' }],
  ])('%s', (_name, f, expected) => {
    expect(decideReminder(f)).toEqual(expected);
  });

  it('mayRemind: a prior order or an owning account, nothing else', () => {
    expect(mayRemind({ hasPriorOrder: false, ownedByAccount: false })).toBe(false);
    expect(mayRemind({ hasPriorOrder: true, ownedByAccount: false })).toBe(true);
    expect(mayRemind({ hasPriorOrder: false, ownedByAccount: true })).toBe(true);
  });
});
