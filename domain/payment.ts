/** What the gateway itself says about one payment: the truth our ledger is corrected from. */
export interface GatewayPayment {
  ref: string;
  currency: string;
  /** Minor units: authorized (0 when never authorized), captured, refunded so far. */
  authorized: number;
  captured: number;
  refunded: number;
  voided: boolean;
}
