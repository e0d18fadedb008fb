/** An amount of money: integer minor units (cents) and an ISO 4217 currency. Never floats. */
export interface Money {
  amount: number;
  currency: string;
}
