/**
 * Invariant 7: the service never stores a card number. Free text a person types (a support
 * reason) may hold one ("refund the charge on 4242 4242 4242 4242"): such text is refused.
 * A card number here: 13–19 digits, optionally grouped by single spaces or dashes, that pass
 * the Luhn check (so an order id or a phone number rarely trips it). Within a longer run of
 * groups ("4242 4242 4242 4242 1234"), any span of whole groups counts; a longer unbroken run
 * of digits is not cut into windows (one in ten would pass Luhn by chance).
 */
const RUN = /\d+(?:[ -]\d+)*/g;

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
  for (const match of text.matchAll(RUN)) {
    const groups = match[0].split(/[ -]/);
    for (let from = 0; from < groups.length; from++) {
      let digits = '';
      for (let to = from; to < groups.length; to++) {
        digits += groups[to];
        if (digits.length > 19) break;
        if (digits.length >= 13 && luhnValid(digits)) return true;
      }
    }
  }
  return false;
}

export const CARD_NUMBER_MESSAGE = 'must not contain a card number (never type one: name the order or the payment instead)';
