/** An amount of money: integer minor units (cents) and an ISO 4217 currency. Never floats. */
export interface Money {
  amount: number;
  currency: string;
}

/** Per currency, once: building an Intl.NumberFormat costs more than the formatting itself (a checkout formats several amounts). */
const DIGITS = new Map<string, number>();

/** How many minor units a currency's major unit has (2 for EUR, 0 for JPY, 3 for KWD). */
function minorDigits(currency: string): number {
  let digits = DIGITS.get(currency);
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    // bounded: only well-formed codes are kept (a stream of junk codes cannot grow the map)
    if (/^[A-Z]{3}$/.test(currency)) DIGITS.set(currency, digits);
  }
  return digits;
}

/** Money as a customer and support read it: `12.50 EUR`, `1200 JPY` (the one formatter: emails, workflows). */
export function formatMoney(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  if (digits === 0) return `${sign}${abs} ${currency}`;
  const unit = 10 ** digits;
  return `${sign}${Math.floor(abs / unit)}.${String(abs % unit).padStart(digits, '0')} ${currency}`;
}
