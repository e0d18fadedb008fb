/**
 * Invariant 7: the service never stores a card number. Free text a person types (a support
 * reason) may hold one ("refund the charge on 4242 4242 4242 4242"): such text is refused.
 * A card number here: 13–19 digits, optionally grouped by single spaces or dashes, that pass
 * the Luhn check (so an order id or a phone number rarely trips it).
 */
const CANDIDATE = /\d(?:[ -]?\d){12,18}/g;

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** True when `text` holds something that looks like a card number (13–19 Luhn-valid digits). */
export function containsCardNumber(text: string): boolean {
  for (const match of text.matchAll(CANDIDATE)) {
    const digits = match[0].replace(/[ -]/g, '');
    // any 13–19 digit window of a longer run counts too
    for (let len = 13; len <= Math.min(19, digits.length); len++) {
      for (let start = 0; start + len <= digits.length; start++) if (luhnValid(digits.slice(start, start + len))) return true;
    }
  }
  return false;
}

export const CARD_NUMBER_MESSAGE = 'must not contain a card number (never type one: name the order or the payment instead)';
