/** An amount of money: integer minor units (cents) and an ISO 4217 currency. Never floats. */
export interface Money {
  amount: number;
  currency: string;
}

/** How many minor units a currency's major unit has (2 for EUR, 0 for JPY, 3 for KWD). */
function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
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
