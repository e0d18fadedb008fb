// Every workflow, re-exported for the worker bundle.
export { checkoutWorkflow } from './checkout';
export { sweepExpiredHoldsWorkflow } from './hold-sweep';
export { refundWorkflow } from './refund';
export { cartRecoveryWorkflow, cartRecoverySweepWorkflow } from './cart-recovery';
export { searchSyncWorkflow, searchSyncSweepWorkflow } from './search-sync';
export { reconcileWorkflow } from './reconcile';
export { paymentFollowUpWorkflow } from './payment-follow-up';
export { recommendationRecomputeWorkflow } from './recommendations';
