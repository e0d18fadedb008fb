/**
 * Workflow and Schedule ids, readable and derived from business ids (support finds them by
 * name). The task queue name is configuration: config.temporal.taskQueue (TEMPORAL_TASK_QUEUE).
 */
export const checkoutWorkflowId = (cartId: string) => `checkout-${cartId}`;
export const HOLD_SWEEP_SCHEDULE_ID = 'sweep-expired-holds';
export const refundWorkflowId = (refundId: string) => `refund-${refundId}`;
export const cartRecoveryWorkflowId = (cartId: string) => `cart-recovery-${cartId}`;
export const CART_RECOVERY_SWEEP_SCHEDULE_ID = 'cart-recovery-sweep';
/** One sync per index alias: a single writer keeps the index in the catalog's order. */
export const searchSyncWorkflowId = (alias: string) => `search-sync-${alias}`;
export const SEARCH_SYNC_SWEEP_SCHEDULE_ID = 'search-sync-sweep';
/** Compares gateway, payments, orders and holds; repairs what is safe, parks the rest (workflows/reconcile.ts). */
export const RECONCILE_SCHEDULE_ID = 'reconcile';
/** One follow-up per gateway event id: a duplicate delivery cannot start it twice (workflows/payment-follow-up.ts). */
export const paymentFollowUpWorkflowId = (eventId: string) => `payment-event-${eventId}`;
/** Rebuilds the "also bought" scores from the paid orders (workflows/recommendations.ts). */
export const RECOMMENDATIONS_RECOMPUTE_SCHEDULE_ID = 'recommendations-recompute';
