import { Connection, WorkflowUpdateFailedError, WorkflowUpdateStage, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Checkout } from '../db/schema/order';
import { CartOwnerChangedError, type CartStore } from '../db/stores/cart';
import { abandonCheckout, failureFlagged, findCheckoutByKey, getCheckout, isClosingCheckout, isStartNotConfirmed, openCheckout, reopenUnstartedCheckout, startNotConfirmed } from '../db/stores/checkouts';
import type { CheckoutAnswer } from '../domain/checkout';
import { isErrorCode, type ErrorCode } from '../domain/failures';
import { isAccountId, mayAccess, ownerOf } from '../domain/ownership';
import { checkoutStartOperation } from '../temporal/checkout';
import { customerEmailHash } from '../temporal/codec';
import { checkoutWorkflowId } from '../temporal/workflow-ids';
import { placeOrderUpdate, type CheckoutInput } from '../workflows/messages';
import { findCheckoutRun } from './checkout-run';
import { answeredViewOfRow, viewOfOutcome, viewOfRow, type CheckoutView } from './checkout-view';
import type { UseCaseDeps } from './deps';
import { paymentUnavailable } from './payment-availability';
import { admit, isFinalWithoutRun, releaseFencedHold } from './admission-hold';
import { rejected, type Rejected } from './result';
import { soldOutReadings, soldOutRefusal } from './sold-out';
import { waitAtMost } from './wait';

/** A checkout request: what the customer sent, minus what the service assigns. */
export type CheckoutRequest = Omit<CheckoutInput, 'checkoutId' | 'answerBy' | 'paymentActionTimeoutMs' | 'authorizationValidityMs'>;

export type PlaceCheckoutResult =
  | { kind: 'placed'; view: CheckoutView }
  | { kind: 'pending'; view: CheckoutView }
  /** The checkout was refused or failed: `code` is its failure code (checkout_failed when it has none). */
  | {
      kind: 'failed';
      view: CheckoutView;
      code: ErrorCode;
      message: string;
      details: Record<string, unknown>;
      /** A replayed payment_unavailable: when to come back as of now (the recorded details keep the first answer's). */
      retryAfterSecondsNow?: number;
    }
  | Rejected;

export function resultOf(view: CheckoutView, failureDetails?: unknown): PlaceCheckoutResult {
  if (view.status === 'placed') return { kind: 'placed', view };
  if (view.status === 'pending') return { kind: 'pending', view };
  const code = view.failure?.code;
  const extra = failureDetails && typeof failureDetails === 'object' ? failureDetails : {};
  return {
    kind: 'failed',
    view,
    code: isErrorCode(code) ? code : 'checkout_failed',
    message: view.failure?.message ?? 'the checkout failed',
    details: { checkoutId: view.checkoutId, ...extra },
  };
}

/** Whether a request's customerId may go with the cart: left out, or the cart's account (a guest's cart takes no account id). */
function customerIdFits(customerId: string | undefined, cartOwner: string | undefined): boolean {
  return customerId === undefined || (cartOwner ? customerId === cartOwner : !isAccountId(customerId));
}

/** Whether another checkout of this cart is still running (its lock live, or its row still pending). */
async function heldByLiveCheckout({ dbs }: Pick<UseCaseDeps, 'dbs'>, cart: { checkoutId?: string; lockedUntil?: number }): Promise<boolean> {
  if (cart.checkoutId === undefined) return false;
  if ((cart.lockedUntil ?? 0) > Date.now()) return true;
  const row = await getCheckout(dbs.order, cart.checkoutId);
  // (a closing one is still compensating: its hold stands until its releaseStock)
  return row !== undefined && (row.status === 'pending' || isClosingCheckout(row));
}

/** Retry-After of a checkout whose workflow could not be started (Temporal unreachable or refusing): seconds. */
export const CHECKOUT_START_RETRY_AFTER_SECONDS = 2;
/** How long Temporal is asked which run holds the checkout, after an indefinite answer (beyond the wait: it may be spent). */
const RUN_CHECK_MS = 5_000;
/** How long a start still under way gets to reach the server before "no such run" counts. */
const START_GRACE_MS = 2_000;

/**
 * What update-with-start left open, to be answered from durable state: `not_started` — Temporal
 * said no run of this checkout is running; `unknown` — Temporal did not say; `another` — another
 * checkout's run is running. Whether a run of this checkout may still start (a call that ended
 * with DEADLINE_EXCEEDED, or was given up, can be on the server already) nobody can tell, so the
 * checkout row decides (`unsettled`).
 */
type Unsettled = { kind: 'not_started'; error?: unknown } | { kind: 'unknown'; error?: unknown } | { kind: 'another'; checkoutId: string };

const isRefusal = (err: unknown): err is WorkflowUpdateFailedError =>
  err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === 'checkout_in_progress';

function refusal(err: WorkflowUpdateFailedError): Rejected {
  return rejected('checkout_in_progress', 'another checkout of this cart is running', (err.cause as ApplicationFailure).details?.[0]);
}

/**
 * Starts the cart's checkout workflow (or attaches to it) and submits this checkout as an
 * update. Waits at most `waitMs` for the order to be placed or refused.
 *
 * Only the workflow's own refusal (checkout_in_progress) is a definite "no". Any other error
 * — e.g. "Update-with-Start could not be executed … unexpected workflow task failure", which
 * the server answers when the run's first workflow task fails although the run was started
 * and goes on to place the order — and a wait that ends before Temporal answered the start
 * are indefinite: Temporal is asked which run holds the checkout (checkout-run.ts). This
 * checkout's run → attached by re-sending the update under the same update id (Temporal
 * dedups it) within the rest of the wait: its outcome, else 'timeout' (202 pending). Another
 * checkout's run → its refusal. No run, or no answer → Unsettled (the row decides).
 */
async function runCheckout(
  client: Client,
  config: UseCaseDeps['config'],
  logger: UseCaseDeps['logger'],
  checkout: Checkout,
  request: CheckoutRequest,
  attempt?: string,
): Promise<CheckoutAnswer | 'timeout' | Rejected | Unsettled> {
  const waitMs = config.checkout.waitMs;
  const answerBy = Date.now() + waitMs;
  const input: CheckoutInput = {
    answerBy,
    checkoutId: checkout.checkoutId,
    cartId: request.cartId,
    email: request.email,
    customerId: request.customerId,
    paymentToken: request.paymentToken,
    shippingAddress: request.shippingAddress,
    expectedTotal: request.expectedTotal,
    paymentActionTimeoutMs: config.payment.actionTimeoutMs,
    authorizationValidityMs: config.payment.authorizationValidityMs,
  };
  const start = checkoutStartOperation(config.temporal.taskQueue, checkout.workflowId, input, customerEmailHash(config.privacy.emailHashSecret, input.email));
  const update = { args: [{ checkoutId: checkout.checkoutId }] as [{ checkoutId: string }], updateId: `place-order-${checkout.checkoutId}${attempt ? `/${attempt}` : ''}`, waitForStage: WorkflowUpdateStage.ACCEPTED } as const;
  // The call can be given up (a 503 must not start the checkout later); the request's own signal, if any, still reaches it.
  const giveUp = new AbortController();
  const outer = client.connection instanceof Connection ? client.connection.callContextStorage.getStore()?.abortSignal : undefined;
  const signal = outer ? AbortSignal.any([outer, giveUp.signal]) : giveUp.signal;
  // The server answers the start half once the run accepted the update (its first workflow task).
  let startAnswered = false;
  void start.workflowHandle().then(
    () => (startAnswered = true),
    () => undefined,
  );
  let callEnded = false;
  const outcome = client
    .withAbortSignal(signal, async () => {
      const handle = await client.workflow.startUpdateWithStart(placeOrderUpdate, { ...update, startWorkflowOperation: start });
      return handle.result();
    })
    .finally(() => (callEnded = true));
  let indefinite: unknown;
  try {
    const answer = await waitAtMost(outcome, waitMs);
    if (answer !== 'timeout') return answer;
    // the run exists and took this checkout (or refused it, which its update answers later): pending
    if (startAnswered) return 'timeout';
    indefinite = 'no answer from Temporal within the wait';
  } catch (err) {
    if (isRefusal(err)) return refusal(err);
    indefinite = err;
  }
  // (a slow first workflow task also ends the wait unanswered: not worth a warning by itself)
  const level = typeof indefinite === 'string' ? 'info' : 'warn';
  logger[level]({ err: indefinite, checkoutId: checkout.checkoutId, workflowId: checkout.workflowId }, 'checkout start: no definite answer from Temporal, asking which run holds the checkout');
  // A call still under way may not have reached the server yet (a wait of 0 ends before it
  // does): "no such run" is asked again for a short while before it counts.
  const graceUntil = Date.now() + START_GRACE_MS;
  let run = await findCheckoutRun(client, checkout.workflowId, checkout.checkoutId, new Date(Date.now() + RUN_CHECK_MS));
  while (run.kind === 'none' && !callEnded && Date.now() < graceUntil) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    run = await findCheckoutRun(client, checkout.workflowId, checkout.checkoutId, new Date(Date.now() + RUN_CHECK_MS));
  }
  switch (run.kind) {
    case 'another':
      giveUp.abort();
      return { kind: 'another', checkoutId: run.checkoutId };
    case 'none':
    case 'unknown':
      giveUp.abort();
      return run.kind === 'none' ? { kind: 'not_started', error: indefinite } : { kind: 'unknown', error: run.error };
    case 'ours': {
      const remaining = answerBy - Date.now();
      if (remaining <= 0) return 'timeout';
      const attached = (async () => {
        const handle = await client.workflow.getHandle(checkout.workflowId, run.runId).startUpdate(placeOrderUpdate, update);
        return handle.result();
      })();
      try {
        return await waitAtMost(attached, remaining);
      } catch (err) {
        if (isRefusal(err)) return refusal(err);
        // the run is there and took this checkout: it records its outcome on the row, which GET /checkouts/:id shows
        logger.warn({ err, checkoutId: checkout.checkoutId, runId: run.runId }, 'checkout attach: no answer from the run, answered pending');
        return 'timeout';
      }
    }
  }
}

/**
 * POST /checkouts: finds this request's checkout row (a retry) or opens one for a cart with
 * lines, locks the cart's lines for it, holds their stock (the admission hold,
 * usecases/admission-hold.ts), and runs the cart's checkout workflow by update-with-start.
 * Placed or failed within `config.checkout.waitMs`, else pending. A cart whose SKUs are
 * already sold out is refused (409 out_of_stock) before any of that: its row is opened failed
 * and no workflow starts (usecases/sold-out.ts); one the admission hold refuses, likewise,
 * once its row is open.
 */
export async function placeCheckout(
  { dbs, temporal, config, logger, carts, breakers }: UseCaseDeps & { carts: CartStore },
  idempotency: { key: string; requestHash: string },
  given: CheckoutRequest,
  viewer?: string,
): Promise<PlaceCheckoutResult> {
  let request = given;
  let cart: Awaited<ReturnType<CartStore['get']>>;
  try {
    cart = await carts.get(request.cartId);
  } catch (err) {
    // Redis down: a retry of an answered checkout is still answered from its row (it needs no cart)
    const row = await findCheckoutByKey(dbs.order, request.cartId, idempotency.key);
    const answer = row && row.status !== 'pending' ? answerOfRow(row, idempotency, viewer, breakers) : undefined;
    if (answer) return answer;
    throw err;
  }
  const cartOwner = cart ? ownerOf(cart.customerId) : undefined;
  // Sold out: refused at once with the hold's own answer, recorded under the key (a replay
  // answers it), no workflow, nothing held, the cart not locked. Before the payment breaker:
  // the workflow judges stock before payment, so a sold-out cart is out_of_stock whatever
  // the gateway's state, and a 503 would only invite a retry that ends in the same 409.
  // Only a cart this request may check out as sent is judged here (its owner, its customerId,
  // lines); anything else goes the way below, which answers it.
  // A cart another live checkout holds is left to that path (checkout_in_progress): its
  // hold is that checkout's, not a sale lost. The cart's lock may have lapsed while that
  // checkout still holds stock (a 3-D Secure wait outlives the lock), so a lapsed lock asks
  // the checkout's row whether it is still running.
  const judgeable = cart && mayAccess(cart.customerId, viewer) && customerIdFits(request.customerId, cartOwner) && cart.lines.length > 0;
  // the live checkout holding the cart, if any (read once: the admission below asks it too)
  const liveHolder = judgeable && cart && (await heldByLiveCheckout({ dbs }, cart)) ? cart.checkoutId : undefined;
  const judged = judgeable && liveHolder === undefined;
  const soldOut = judged && cart ? await soldOutRefusal(dbs, logger, cart.lines, soldOutReadings(dbs, config.checkout.soldOutCacheMs)) : undefined;
  const opening = {
    cartId: request.cartId,
    idempotencyKey: idempotency.key,
    requestHash: idempotency.requestHash,
    email: request.email,
    workflowId: checkoutWorkflowId(request.cartId),
    ...(cartOwner ? { customerId: cartOwner } : {}),
  };
  // A refusal opens its row straight away: the insert answers a retry's row too (the key's
  // first row wins), so the sold-out loser costs one write and no lookup before it.
  let checkout = soldOut ? (await openCheckout(dbs.order, opening, soldOut)).checkout : await findCheckoutByKey(dbs.order, request.cartId, idempotency.key);
  // A checkout the API fenced because Temporal gave no definite answer to its start (503: "send
  // the same request again"): this is that request again, so it reopens and goes on (another
  // duplicate may have reopened it first: its row then stands as it is now).
  // Its update gets an id of its own: a run that landed after the 503 answered the first id
  // (with the fence's failure) and closed, and Temporal answers a repeated update id from it.
  let attempt: string | undefined;
  if (checkout && isStartNotConfirmed(checkout) && mayAccess(checkout.customerId, viewer) && checkout.requestHash === idempotency.requestHash) {
    checkout = (await reopenUnstartedCheckout(dbs.order, checkout.checkoutId)) ?? (await getCheckout(dbs.order, checkout.checkoutId)) ?? checkout;
    attempt = `reopened-${checkout.updatedAt.getTime()}`;
  }
  const answer = checkout && answerOfRow(checkout, idempotency, viewer, breakers);
  if (answer) return answer;
  // Being compensated (answerOfRow leaves it unanswered): the run that claimed it is asked.
  if (checkout && isClosingCheckout(checkout)) return attachToClosing(temporal, config, dbs, checkout);
  if (!checkout) {
    if (!cart || !mayAccess(cart.customerId, viewer)) return rejected('not_found', 'no such cart');
    if (!customerIdFits(request.customerId, cartOwner)) {
      return rejected('invalid_request', 'customerId is not the cart\'s customer: leave it out', [{ field: 'customerId', message: 'not the cart\'s customer' }]);
    }
    if (cart.lines.length === 0) return rejected('cart_empty', 'the cart is empty');
    // A new checkout is refused at once while payments are down (a replay keeps its answer).
    const unavailable = await paymentUnavailable(breakers);
    if (unavailable) return unavailable;
    ({ checkout } = await openCheckout(dbs.order, opening));
  }
  // the order of an account's cart is the account's: its customerId comes from the checkout row
  const owner = ownerOf(checkout.customerId);
  if (owner) request = { ...request, customerId: owner };
  if (checkout.requestHash !== idempotency.requestHash) return reusedKey();
  // The cart's lines cannot change while its checkout runs (the workflow unlocks a failed one).
  // The lock is refused if the cart changed hands since the checkout was opened (a login
  // claimed a guest's cart meanwhile): an account's cart is never checked out as a guest order.
  let holder: string | null;
  try {
    holder = await carts.lock(request.cartId, checkout.checkoutId, Date.now() + config.checkout.holdTtlSeconds * 1000, owner);
  } catch (err) {
    if (err instanceof CartOwnerChangedError) return rejected('not_found', 'no such cart');
    throw err;
  }
  if (holder && holder !== checkout.checkoutId) {
    return rejected('checkout_in_progress', 'another checkout of this cart is running', { checkoutId: holder });
  }

  // A cart this request may check out, of a checkout no run has claimed: its stock is held
  // under the checkout's id before the run starts (usecases/admission-hold.ts), with the lines
  // read now that the cart is locked for it (the lines its run freezes). Refused: fenced failed
  // out_of_stock — only if no run has claimed the checkout meanwhile (that run judges for
  // itself) — and no run is started. (A duplicate of this request holds under the same id: the
  // same hold, repeated.) Not while another live checkout holds the cart (its lock lapsed
  // during a 3-D Secure wait): that checkout's run refuses this one, checkout_in_progress,
  // and this one must not hold the cart's stock a second time meanwhile (review r29b).
  const admissible = judgeable && checkout.runId === null && (liveHolder === undefined || liveHolder === checkout.checkoutId);
  const lines = admissible ? (await carts.get(request.cartId).catch(() => null))?.lines : undefined;
  const admission = lines ? await admit({ dbs, logger, holdTtlSeconds: config.checkout.holdTtlSeconds }, checkout.checkoutId, lines) : undefined;
  if (admission?.kind === 'refused') {
    const fenced = await abandonCheckout(dbs.order, checkout.checkoutId, null, admission.failure);
    const row = (await getCheckout(dbs.order, checkout.checkoutId)) ?? checkout;
    // fenced here, or by a duplicate of this request: answered as the pre-check answers
    if (fenced || isFinalWithoutRun(row)) return answeredFailure({ dbs, logger }, carts, row);
  }
  const outcome = await runCheckout(temporal, config, logger, checkout, request, attempt);
  if (outcome === 'timeout') {
    // Pending as far as the wait knows. A row answered meanwhile without a run (fenced by a
    // duplicate of this request whose answer did not reach this one) is answered; one whose
    // run answered it is still that run's to tell (it may be compensating: 202, as before).
    const row = (await getCheckout(dbs.order, checkout.checkoutId)) ?? checkout;
    // (not an unconfirmed start's fence: the same request may reopen that one meanwhile, and its lock is then live)
    if (row.status !== 'pending' && isFinalWithoutRun(row)) return answeredFailure({ dbs, logger }, carts, row);
    return resultOf(viewOfRow(checkout));
  }
  if ('kind' in outcome && (outcome.kind === 'not_started' || outcome.kind === 'unknown' || outcome.kind === 'another')) return unsettled({ dbs, logger }, carts, checkout, outcome);
  // A run that found this checkout fenced answered with the fence's failure (a late start met by
  // this request, which had reopened the row): the row may be pending again with no run holding
  // it, so it is fenced again (or answered, if a run claimed it meanwhile): the next same request
  // reopens it, and then meets no late run.
  if (!('kind' in outcome) && outcome.status === 'failed' && failureFlagged(outcome.failure, 'notStarted')) return unsettled({ dbs, logger }, carts, checkout, { kind: 'not_started' });
  // A run answered with a compensating run's placeholder (it met the row `closing`: that run was
  // stopped before it recorded its failure — reconciliation records it): this request holds
  // nothing, so the lock it took goes back, and the checkout shows pending until then.
  if (!('kind' in outcome) && outcome.status === 'failed' && failureFlagged(outcome.failure, 'closing')) {
    await carts.unlock(request.cartId, checkout.checkoutId);
    return resultOf(viewOfRow((await getCheckout(dbs.order, checkout.checkoutId)) ?? checkout));
  }
  if ('kind' in outcome) {
    // The cart's running workflow refused this checkout (another one runs: its lock had lapsed,
    // so LOCK gave it to this one): give the lock back, only if it is still this checkout's, so
    // the running checkout's finish finds no stranger's lock on its cart. With an admission hold,
    // the checkout is fenced as when Temporal names another checkout's run (its hold stays for
    // the same request to take again: usecases/admission-hold.ts).
    if (outcome.kind === 'rejected' && outcome.code === 'checkout_in_progress') {
      const running = (outcome.details as { checkoutId?: unknown } | undefined)?.checkoutId;
      if (admission?.kind === 'held' && typeof running === 'string') return unsettled({ dbs, logger }, carts, checkout, { kind: 'another', checkoutId: running });
      await carts.unlock(request.cartId, checkout.checkoutId);
    }
    return outcome;
  }
  // A failed checkout's lock goes back (its run gave it back already, unless the failure was
  // decided without one — a fenced row — and this request's lock landed after that fence's
  // unlock), and so does the stock this request held for it, if a duplicate's fence (out_of_stock)
  // decided it: the run met the fenced row and stopped, holding nothing itself (review r29a).
  if (outcome.status === 'failed') {
    await giveLockBack(carts, request.cartId, checkout.checkoutId);
    if (admission?.kind === 'held') {
      const row = await getCheckout(dbs.order, checkout.checkoutId);
      if (row) await releaseFencedHold({ dbs, logger }, row);
    }
  }
  return resultOf(viewOfOutcome(outcome), outcome.status === 'failed' ? outcome.failure.details : undefined);
}

/**
 * A row fenced without a run, as its answer: its cart lock given back if it is still this
 * checkout's, and any stock held under its id (a duplicate's admission hold) given back.
 */
async function answeredFailure(deps: Pick<UseCaseDeps, 'dbs' | 'logger'>, carts: CartStore, row: Checkout): Promise<PlaceCheckoutResult> {
  if (row.status === 'failed') await giveLockBack(carts, row.cartId, row.checkoutId);
  await releaseFencedHold(deps, row);
  return resultOf(answeredViewOfRow(row), row.failure?.details);
}

/** A failed checkout's cart lock, given back if it is still that checkout's; Redis not answering does not change the answer (the lock lapses at its deadline). */
const giveLockBack = (carts: CartStore, cartId: string, checkoutId: string) => carts.unlock(cartId, checkoutId).catch(() => undefined);

/**
 * A checkout its run is compensating (the row `closing`: markCheckoutClosing) is answered by that
 * run: the request waits (at most the wait) for its answer through the update, without a lock
 * or a new run. A run that is gone (terminated between its failOrder and its
 * recordCheckoutFailure) records nothing more: the checkout shows pending until reconciliation
 * records its failure (it reads a closing row as pending), and no new run is started for it —
 * one would only find the row not pending and answer the placeholder.
 */
async function attachToClosing(client: Client, config: UseCaseDeps['config'], dbs: UseCaseDeps['dbs'], checkout: Checkout): Promise<PlaceCheckoutResult> {
  const pending = resultOf(viewOfRow(checkout));
  if (!checkout.runId) return pending;
  const waitMs = config.checkout.waitMs;
  const deadline = new Date(Date.now() + Math.max(waitMs, 1_000));
  try {
    const handle = client.workflow.getHandle(checkout.workflowId, checkout.runId);
    const running = await client.withDeadline(deadline, async () => (await handle.describe()).status.name === 'RUNNING');
    if (!running) return pending;
    const answer = await waitAtMost(
      (async () => (await handle.startUpdate(placeOrderUpdate, { args: [{ checkoutId: checkout.checkoutId }], updateId: `place-order-${checkout.checkoutId}/closing`, waitForStage: WorkflowUpdateStage.ACCEPTED })).result())(),
      waitMs,
    );
    if (answer === 'timeout') return pending;
    return resultOf(viewOfOutcome(answer), answer.status === 'failed' ? answer.failure.details : undefined);
  } catch {
    // Temporal not answering, or the run closed meanwhile (it recorded its answer): the row says
    const row = (await getCheckout(dbs.order, checkout.checkoutId)) ?? checkout;
    return row.status !== 'pending' && !isClosingCheckout(row) ? resultOf(answeredViewOfRow(row), row.failure?.details) : resultOf(viewOfRow(row));
  }
}

/**
 * Update-with-start left the checkout unsettled: Temporal said no run of it is running, or
 * another checkout's run is, or did not answer. None of these proves that no run of this
 * checkout starts later (a call that ended DEADLINE_EXCEEDED, or one given up under way, may be
 * on the server already), so the checkout row is the judge: the API fences it — failed, unless a
 * run has claimed it, in one conditional update (abandonCheckout with no run seen, as
 * reconciliation does). Fenced: no run of this checkout can hold or charge anything any more (a
 * late start's claimCheckout finds the row failed and stops), so the cart lock is given back and
 * the answer is 503 service_unavailable + Retry-After (409 checkout_in_progress when another
 * checkout runs); the same request again (same Idempotency-Key) reopens the row and starts it
 * (reopenUnstartedCheckout). Not fenced: a run claimed the row — it goes on and records its
 * outcome there: the row's answer, or 202 pending.
 */
async function unsettled({ dbs, logger }: Pick<UseCaseDeps, 'dbs' | 'logger'>, carts: CartStore, checkout: Checkout, outcome: Unsettled): Promise<PlaceCheckoutResult> {
  const another = outcome.kind === 'another' ? outcome.checkoutId : undefined;
  const failure =
    another !== undefined
      ? startNotConfirmed('checkout_in_progress', 'another checkout of this cart is running', { checkoutId: another })
      : startNotConfirmed('service_unavailable', 'the checkout could not be started now; send the same request (same Idempotency-Key) again after Retry-After', {
          retryAfterSeconds: CHECKOUT_START_RETRY_AFTER_SECONDS,
        });
  if (await abandonCheckout(dbs.order, checkout.checkoutId, null, failure)) {
    await carts.unlock(checkout.cartId, checkout.checkoutId);
    return another !== undefined
      ? rejected('checkout_in_progress', 'another checkout of this cart is running', { checkoutId: another })
      : rejected('service_unavailable', failure.message, { checkoutId: checkout.checkoutId, retryAfterSeconds: CHECKOUT_START_RETRY_AFTER_SECONDS });
  }
  const row = (await getCheckout(dbs.order, checkout.checkoutId)) ?? checkout;
  // fenced for good meanwhile (a duplicate's out_of_stock): what this request held goes back (review r29d)
  await releaseFencedHold({ dbs, logger }, row);
  // (a run compensating it has not recorded its answer yet: pending, as viewOfRow shows it)
  if (row.status !== 'pending' && !isClosingCheckout(row)) return resultOf(answeredViewOfRow(row), row.failure?.details);
  return resultOf(viewOfRow(row));
}

/**
 * A replay answers the recorded status and body. A recorded `payment_unavailable` (the breaker
 * refused the authorization inside the workflow) would also repeat its Retry-After, pointing
 * into the past: its Retry-After is the breaker's remaining cool-down now instead (1 s once it
 * no longer refuses). The storefront retries such a checkout with a new Idempotency-Key.
 */
const reusedKey = () => rejected('idempotency_key_reused', 'this Idempotency-Key was used with a different request');

/**
 * What a found checkout row answers by itself, with no cart: another customer's is not found
 * (never 403, domain/ownership.ts), another request's key is refused, an answered one is replayed;
 * undefined for this request's pending row.
 */
function answerOfRow(
  checkout: Checkout,
  idempotency: { requestHash: string },
  viewer: string | undefined,
  breakers: UseCaseDeps['breakers'],
): PlaceCheckoutResult | Promise<PlaceCheckoutResult> | undefined {
  if (!mayAccess(checkout.customerId, viewer)) return rejected('not_found', 'no such cart');
  if (checkout.requestHash !== idempotency.requestHash) return reusedKey();
  // (a run compensating it has not recorded what it tells yet: attached to, as a pending one)
  if (checkout.status !== 'pending' && !isClosingCheckout(checkout)) return replayed(resultOf(answeredViewOfRow(checkout), checkout.failure?.details), breakers);
  return undefined;
}

async function replayed(result: PlaceCheckoutResult, breakers: UseCaseDeps['breakers']): Promise<PlaceCheckoutResult> {
  if (result.kind !== 'failed' || result.code !== 'payment_unavailable') return result;
  const now = await paymentUnavailable(breakers);
  const seconds = (now?.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 1;
  return { ...result, retryAfterSecondsNow: seconds };
}
