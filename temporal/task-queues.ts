/** Workflow ids are readable and derived from business ids (support finds them by name). */
export const checkoutWorkflowId = (cartId: string) => `checkout-${cartId}`;
export const HOLD_SWEEP_SCHEDULE_ID = 'sweep-expired-holds';
export const refundWorkflowId = (refundId: string) => `refund-${refundId}`;
export const cartRecoveryWorkflowId = (cartId: string) => `cart-recovery-${cartId}`;
export const CART_RECOVERY_SWEEP_SCHEDULE_ID = 'cart-recovery-sweep';
