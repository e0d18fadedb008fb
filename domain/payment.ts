/** What the gateway itself says about one payment: the truth our ledger is corrected from. */
export interface GatewayPayment {
  ref: string;
  currency: string;
  /** Minor units: authorized (0 when never authorized), captured, refunded so far. */
  authorized: number;
  captured: number;
  refunded: number;
  voided: boolean;
  /**
   * An intent exists but is not authorized yet (waiting for 3-D Secure or the processor):
   * nothing to refund, but it must be cancelled so it can never authorize later.
   */
  open?: boolean;
}
