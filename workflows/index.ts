// Every workflow, re-exported for the worker bundle.
export { checkoutWorkflow } from './checkout';
export { voidUnseenAuthorizationWorkflow } from './void-unseen-authorization';
export { sweepExpiredHoldsWorkflow } from './hold-sweep';
export { refundWorkflow } from './refund';
export { cartRecoveryWorkflow, cartRecoverySweepWorkflow } from './cart-recovery';
export { searchSyncWorkflow, searchSyncSweepWorkflow } from './search-sync';
export { reconcileWorkflow } from './reconcile';
export { paymentFollowUpWorkflow } from './payment-follow-up';
export { recommendationRecomputeWorkflow } from './recommendations';

// Worker Versioning: every workflow follows the worker's default (PINNED). A per-workflow
// AUTO_UPGRADE (setWorkflowOptions) for the long-running ones was tried and removed: on a worker
// without deployment options (the test stacks' in-process workers) their workflow tasks timed
// out, and search sync never ran. A rollout moves those with
// `temporal workflow update-options --versioning-override-behavior auto_upgrade` (README).
