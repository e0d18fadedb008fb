/**
 * Signals, updates and queries of every workflow, defined once and imported by both the
 * API and the workflows, and the payloads they carry (workflow inputs, views, outcomes).
 * Domain types (money, carts, failure codes) live in domain/.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CheckoutAnswer, NextAction } from '../domain/checkout';
import type { Money } from '../domain/money';
import type { CheckoutStep } from '../domain/checkout-lifecycle';
import type { SupportActor } from '../domain/support';

export interface CheckoutInput {
  checkoutId: string;
  cartId: string;
  email: string;
  customerId?: string;
  paymentToken: string;
  shippingAddress?: Record<string, string>;
  expectedTotal?: Money;
  /** When (ms) the API stops waiting for the answer: a failure after it is emailed. */
  answerBy?: number;
  /** How long (ms) the payment may wait for the customer's 3-D Secure step or the processor (default 15 min). */
  paymentActionTimeoutMs?: number;
  /** How long (ms) an authorization stays capturable at the gateway (Stripe: 7 days); a parked capture is cancelled before. */
  authorizationValidityMs?: number;
}


export interface CheckoutStatusView {
  checkoutId: string;
  cartId: string;
  step: CheckoutStep;
  orderId?: string;
  waitingFor?: string;
  lastError?: string;
  /** While parked (step needs_attention): the step that waits for support, e.g. capturing_payment or committing_stock. */
  parkedStep?: CheckoutStep;
  compensations: string[];
  outcome?: CheckoutAnswer;
  /** While the payment waits for the customer's 3-D Secure step: what the storefront must do. */
  nextAction?: NextAction;
  /** Payment events (webhooks, confirms) the checkout has acted on. */
  paymentEvents?: number;
  /** A cancel request arrived; after the order was placed it is recorded and ignored. */
  cancelRequested?: boolean;
  /** Support signals that arrived while nothing waited for support (recorded, not acted on). */
  ignoredSignals?: string[];
}

/**
 * Submits the checkout and answers once the order is placed (steps 1–4) or has failed, or
 * once the payment waits for the customer (pending, with the next action).
 */
export const placeOrderUpdate = defineUpdate<CheckoutAnswer, [{ checkoutId: string }]>('placeOrder');
/**
 * The storefront says the customer finished the 3-D Secure step: the workflow re-reads the
 * payment from the gateway (never trusting the caller) and answers where the checkout stands.
 */
export const confirmPaymentUpdate = defineUpdate<CheckoutAnswer, [{ checkoutId: string }]>('confirmPayment');

/** A signed gateway event about this checkout's payment arrived (the inbox deduplicated it). */
export interface PaymentEventNotice {
  eventId: string;
  checkoutId: string;
  type: string;
}
/** Wakes a checkout waiting for its payment: it re-reads the payment from the gateway. */
export const paymentEventSignal = defineSignal<[PaymentEventNotice]>('paymentEvent');
export const checkoutStatusQuery = defineQuery<CheckoutStatusView>('status');

export interface HoldSweepResult {
  released: number;
}

/**
 * Cancels a workflow's business process with compensation (support tooling). `actor`: who
 * decided (the admin API sends it; a signal sent from the Web UI or CLI may not have one).
 */
export const cancelSignal = defineSignal<[{ reason: string; actor?: SupportActor }]>('cancel');

/** Who sent a support signal and why (absent in signals sent before support identities, or by hand). */
export interface SupportSignalArgs {
  actor?: SupportActor;
  reason?: string;
}

// ---- refunds ---------------------------------------------------------------------------

export interface RefundInput {
  refundId: string;
  orderId: string;
  email: string;
  amount: Money;
  /** Lines to put back in stock, when the request asked for a restock (before line claims). */
  restockLines?: { sku: string; quantity: number }[];
  /**
   * The order-line units this refund takes (and how many of them go back to stock), claimed
   * by the API and claimed again, idempotently, by the workflow's first step.
   */
  lines?: { sku: string; quantity: number; restock: number }[];
  /**
   * Who asked for the refund (the workflow's memo shows it; absent before support identities).
   * The reason stays in the order's history (refund_requested), out of the workflow: free text
   * may hold personal data. Runs started before this may carry one; nothing reads it.
   */
  requestedBy?: { actor: SupportActor; reason?: string };
}

export type RefundStep = 'claiming' | 'releasing' | 'refunding' | 'recording' | 'restocking' | 'updating_order' | 'emailing' | 'needs_attention' | 'succeeded' | 'failed';

export interface RefundStatusView {
  refundId: string;
  orderId: string;
  step: RefundStep;
  waitingFor?: string;
  lastError?: string;
}

export interface RefundOutcome {
  refundId: string;
  status: 'succeeded' | 'failed';
  failure?: { code: string; message: string };
}

export const refundStatusQuery = defineQuery<RefundStatusView>('status');
/** Support resumes a parked workflow after fixing the cause (Web UI: Signal → retry), saying who and why. */
export const retrySignal = defineSignal<[SupportSignalArgs?]>('retry');

/**
 * What a support update answers when the workflow took the action: `at` is the workflow's
 * time of the decision (the order event the API then records carries it).
 */
export interface SupportActionTaken {
  action: 'retry' | 'cancel';
  at: string;
}
/**
 * The admin API's retry of a parked workflow (an update, not a signal: the workflow decides).
 * Its validator refuses it while nothing waits for support (`order_not_parked`) or once
 * another person's retry or cancel was taken (`support_action_conflict`): the loser gets a 409
 * and nothing is recorded. The reason stays out of the workflow (the order event has it).
 */
export const supportRetryUpdate = defineUpdate<SupportActionTaken, [{ actor: SupportActor }]>('supportRetry');
/** The admin API's cancel of a parked workflow: like supportRetryUpdate, with the reason the cancellation records. */
export const supportCancelUpdate = defineUpdate<SupportActionTaken, [{ actor: SupportActor; reason: string }]>('supportCancel');

// ---- abandoned-cart recovery -----------------------------------------------------------

export interface CartRecoveryInput {
  cartId: string;
  /** The cart version and last-change time (ms) the reminder clock runs from. */
  version: number;
  updatedAt: number;
  /** Minutes after the last change at which each reminder is due. */
  offsetsMinutes: number[];
  discountCode?: string;
  /** Reminders of this version already handled (kept across continue-as-new). */
  doneSteps?: number;
  /** A customer account owns the cart or its address (the customer context sets it); otherwise only an address with a prior order is mailed. */
  ownedByAccount?: boolean;
}

export interface CartRecoveryView {
  cartId: string;
  version: number;
  nextStep?: number;
  nextAt?: string;
  sent: number;
  stopped?: string;
}

/**
 * The cart changed: the reminder clock restarts. Sent by the API once after a handled reminder
 * (the cart's marker says `later`), by the sweep, and by the API before runs started once (every write).
 */
export const cartChangedSignal = defineSignal<[{ version: number; updatedAt: number }]>('cartChanged');
export const cartRecoveryStatusQuery = defineQuery<CartRecoveryView>('status');

// ---- catalog search sync ----------------------------------------------------------------

export interface SearchSyncInput {
  /** How long the sync sleeps when nothing signals it (the stock-change debounce). */
  stockSyncMs: number;
  /** Stock changes at or after this time (ISO) are not in the index yet; absent = all. */
  stockSince?: string;
  /** Ticks before continue-as-new (default 500). */
  ticksPerRun?: number;
}

/** Something changed in the catalog: drain the outbox now rather than at the next tick. */
export const searchChangedSignal = defineSignal('searchChanged');

/** Where a recommendations recompute stands (workflows/recommendations.ts), carried across continue-as-new. */
export interface RecommendationRecomputeSummary {
  generation?: string;
  pages: number;
  orders: number;
  /** Order/key claims made by this recompute (purchases already counted incrementally add none). */
  counted: number;
  runs: number;
  published: boolean;
}
export const recommendationRecomputeStatusQuery = defineQuery<RecommendationRecomputeSummary>('recommendationRecomputeStatus');
