/**
 * Card numbers (PANs) never enter the service, in any field: a customer who pastes a card into
 * a name, an address line or a refund reason would otherwise put it into PostgreSQL, Temporal
 * history and the logs. A candidate is 13–19 digits, written together or in groups separated
 * by single spaces or dashes, starting with a card network's prefix and passing the Luhn
 * check. Ordinary digits (phone numbers, order numbers, postcodes) are shorter, lack the
 * prefix or fail Luhn (1 in 10 random numbers passes it; the prefix and length cut that further).
 */

/** Issuer prefixes of the networks a shop sees (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro). */
const NETWORK_PREFIX = /^(?:4|5[1-5]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|6011|64[4-9]|65|35(?:2[89]|[3-8]\d)|3(?:0[0-5]|[689])|62|50[0-9]|5[6-9]|6[0-9])/;

export function luhnValid(digits: string): boolean {
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

const looksLikeCard = (digits: string) => digits.length >= 13 && digits.length <= 19 && NETWORK_PREFIX.test(digits) && luhnValid(digits);

/**
 * How people write card numbers: one block of digits, groups of four (the last one shorter
 * for 13- and 19-digit cards), or Amex/Diners' 4-6-5 and 4-6-4. Other groupings (phone numbers,
 * dates, postcodes side by side) are not taken for cards.
 */
function cardGrouping(lengths: number[]): boolean {
  if (lengths.length === 1) return true;
  if (lengths.length === 3 && lengths[0] === 4 && lengths[1] === 6 && (lengths[2] === 5 || lengths[2] === 4)) return true;
  const last = lengths[lengths.length - 1] ?? 0;
  return last >= 1 && last <= 4 && lengths.slice(0, -1).every((l) => l === 4);
}

/**
 * Whether `text` holds a card number: each run of digit groups (a single space or dash between
 * groups) is checked span by span of whole groups, so a card written next to other numbers
 * ("ref 12 4111 1111 1111 1111") is still found.
 */
export function containsCardNumber(text: string): boolean {
  for (const run of text.matchAll(/\d+(?:[ -]\d+)*/g)) {
    const groups = run[0].split(/[ -]/);
    for (let start = 0; start < groups.length; start++) {
      let digits = '';
      const lengths: number[] = [];
      for (let end = start; end < groups.length && digits.length < 19; end++) {
        const group = groups[end] ?? '';
        digits += group;
        lengths.push(group.length);
        if (cardGrouping(lengths) && looksLikeCard(digits)) return true;
      }
    }
  }
  return false;
}

export const CARD_NUMBER_MESSAGE = 'must not contain a card number (send a payment token instead)';
