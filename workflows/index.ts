// Every workflow, re-exported for the worker bundle.
import { setWorkflowOptions } from '@temporalio/workflow';
import { cartRecoveryWorkflow } from './cart-recovery';
import { reconcileWorkflow } from './reconcile';
import { searchSyncWorkflow } from './search-sync';

export { checkoutWorkflow } from './checkout';
export { sweepExpiredHoldsWorkflow } from './hold-sweep';
export { refundWorkflow } from './refund';
export { cartRecoveryWorkflow, cartRecoverySweepWorkflow } from './cart-recovery';
export { searchSyncWorkflow, searchSyncSweepWorkflow } from './search-sync';
export { reconcileWorkflow } from './reconcile';
export { paymentFollowUpWorkflow } from './payment-follow-up';
export { recommendationRecomputeWorkflow } from './recommendations';

// Worker Versioning: the worker's default is PINNED (a checkout or refund stays on the build it
// started on). These run for days or forever (continue-as-new): they move to the current build
// at their next task instead, which the recorded-history replay test guards.
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, cartRecoveryWorkflow);
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, searchSyncWorkflow);
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, reconcileWorkflow);
