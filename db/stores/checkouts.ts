import { and, eq, or, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client';
import { randomId } from '../ids';
import { preparedStatements } from './prepared';
import { checkouts, type Checkout, type FrozenCart, type StoredFailure } from '../schema/order';
import { rowStatus } from '../../domain/checkout-lifecycle';

export interface OpenCheckoutInput {
  cartId: string;
  idempotencyKey: string;
  requestHash: string;
  email: string;
  workflowId: string;
  /** The customer account that owns the cart (domain/ownership.ts); absent for a guest's. */
  customerId?: string;
}

/**
 * Records a checkout request under its Idempotency-Key (unique per cart). The first
 * caller creates it; every later caller with the same key gets the same row back.
 * `refusal`: the request was refused before any workflow (sold out): the row is created
 * failed with that failure, in the same single insert, so a replay answers it and nothing is
 * left half-written. A row the key already has wins (pending or not): its answer stands.
 */
export async function openCheckout(db: Db, input: OpenCheckoutInput, refusal?: StoredFailure): Promise<{ checkout: Checkout; created: boolean }> {
  const [created] = await db
    .insert(checkouts)
    .values({ checkoutId: randomId('chk'), ...input, ...(refusal ? { status: rowStatus('failed'), failure: refusal } : {}) })
    .onConflictDoNothing({ target: [checkouts.cartId, checkouts.idempotencyKey] })
    .returning();
  if (created) return { checkout: created, created: true };
  const [existing] = await db
    .select()
    .from(checkouts)
    .where(and(eq(checkouts.cartId, input.cartId), eq(checkouts.idempotencyKey, input.idempotencyKey)));
  if (!existing) throw new Error('checkout vanished after an idempotency conflict');
  return { checkout: existing, created: false };
}

export async function findCheckoutByKey(db: DbOrTx, cartId: string, idempotencyKey: string): Promise<Checkout | undefined> {
  const [row] = await db
    .select()
    .from(checkouts)
    .where(and(eq(checkouts.cartId, cartId), eq(checkouts.idempotencyKey, idempotencyKey)));
  return row;
}

export async function getCheckout(db: DbOrTx, checkoutId: string): Promise<Checkout | undefined> {
  const [row] = await db.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId));
  return row;
}

/**
 * Claims a pending checkout for a workflow run. Returns undefined when the run may go on,
 * or the finished checkout when another run already closed it (a late duplicate start).
 * The same run claiming again goes on whatever the status: its steps before the answer are
 * local activities, so a worker that dies mid-way leaves them to be re-run from the claim
 * by the same run, after they may have placed the order (every step is idempotent).
 */
/** The checkout's hot statements (every checkout runs each once or twice): prepared. */
const statements = preparedStatements((db: DbOrTx) => ({
  claim: db
    .update(checkouts)
    .set({ runId: sql`${sql.placeholder('runId')}`, updatedAt: sql`now()` })
    .where(and(eq(checkouts.checkoutId, sql.placeholder('checkoutId')), eq(checkouts.status, 'pending')))
    .returning({ checkoutId: checkouts.checkoutId })
    .prepare('checkout_claim'),
  frozenCart: db
    .select({ frozenCart: checkouts.frozenCart })
    .from(checkouts)
    .where(eq(checkouts.checkoutId, sql.placeholder('checkoutId')))
    .prepare('checkout_frozen_cart'),
  // the first freeze wins: a later one (a re-run) gets the stored cart back, in the same statement
  freeze: db
    .update(checkouts)
    .set({ frozenCart: sql`coalesce(${checkouts.frozenCart}, ${sql.placeholder('cart')}::jsonb)`, updatedAt: sql`now()` })
    .where(eq(checkouts.checkoutId, sql.placeholder('checkoutId')))
    .returning({ frozenCart: checkouts.frozenCart })
    .prepare('checkout_freeze_cart'),
}));

export async function claimCheckout(db: Db, checkoutId: string, runId: string): Promise<Checkout | undefined> {
  const [claimed] = await statements(db).claim.execute({ checkoutId, runId });
  if (claimed) return undefined;
  const existing = await getCheckout(db, checkoutId);
  if (!existing) throw new Error(`no checkout ${checkoutId}`);
  if (existing.runId === runId) return undefined;
  return existing;
}

/**
 * Stores the priced cart a checkout decided on, once: the first write wins and every later
 * call (a re-run of the step after a crash, with the live cart changed or not) gets the
 * stored one back, so a re-run repeats the first decision instead of re-deciding.
 */
export async function freezeCheckoutCart(db: Db, checkoutId: string, cart: FrozenCart): Promise<FrozenCart> {
  const [row] = await statements(db).freeze.execute({ checkoutId, cart: JSON.stringify(cart) });
  if (!row?.frozenCart) throw new Error(`no checkout ${checkoutId}`);
  return row.frozenCart;
}

export async function getFrozenCart(db: DbOrTx, checkoutId: string): Promise<FrozenCart | undefined> {
  const [row] = await statements(db).frozenCart.execute({ checkoutId });
  return row?.frozenCart ?? undefined;
}

/**
 * Reconciliation closes a checkout whose workflow is gone, but only if nothing moved it since
 * it looked: still pending and still claimed by the run it saw (a replayed request may have
 * started a new run meanwhile). True when it closed it — only then may it return the money.
 */
export async function abandonCheckout(db: Db, checkoutId: string, seenRunId: string | null, failure: StoredFailure): Promise<boolean> {
  const closed = await db
    .update(checkouts)
    .set({ status: rowStatus('failed'), failure, updatedAt: sql`now()` })
    .where(
      and(
        eq(checkouts.checkoutId, checkoutId),
        // pending, or closing (its run stopped between failOrder and recordCheckoutFailure: markCheckoutClosing)
        or(eq(checkouts.status, 'pending'), and(eq(checkouts.status, 'failed'), failureFlaggedSql('closing'))),
        seenRunId === null ? sql`${checkouts.runId} is null` : eq(checkouts.runId, seenRunId),
      ),
    )
    .returning({ checkoutId: checkouts.checkoutId });
  return closed.length > 0;
}

/**
 * The two marks a checkout's stored failure can carry: `notStarted` (fenced by the API before
 * any run claimed it: startNotConfirmed) and `closing` (its run's placeholder while it
 * compensates: markCheckoutClosing). The same test in TypeScript and in SQL.
 */
type FailureFlag = 'notStarted' | 'closing';
export const failureFlagged = (failure: { details?: unknown } | null | undefined, flag: FailureFlag): boolean =>
  typeof failure?.details === 'object' && failure.details !== null && (failure.details as Record<string, unknown>)[flag] === true;
export const failureFlaggedSql = (flag: FailureFlag) => sql`(${checkouts.failure} -> 'details' ->> ${flag}) = 'true'`;

/**
 * A checkout the API answered without a run of it (usecases/place-checkout.ts: Temporal gave no
 * definite answer to its start, and no run of it has claimed the row) is fenced by
 * `abandonCheckout(…, null, startNotConfirmed(…))`: a start that lands later finds the row
 * failed in claimCheckout and stops without holding or charging anything. Its failure says so
 * (`details.notStarted`), and the same request again (same Idempotency-Key) reopens it.
 */
export function startNotConfirmed(code: 'service_unavailable' | 'checkout_in_progress', message: string, details: Record<string, unknown>): StoredFailure {
  return { code, message, details: { ...details, notStarted: true } };
}

export const isStartNotConfirmed = (row: Checkout): boolean =>
  row.status === rowStatus('failed') && row.runId === null && !row.orderId && failureFlagged(row.failure, 'notStarted');

/** Reopens a checkout fenced by startNotConfirmed (the same request sent again): pending, unclaimed; undefined when it is not such a row (any more). */
export async function reopenUnstartedCheckout(db: Db, checkoutId: string): Promise<Checkout | undefined> {
  const [row] = await db
    .update(checkouts)
    .set({ status: rowStatus('pending'), failure: null, updatedAt: sql`now()` })
    .where(
      and(
        eq(checkouts.checkoutId, checkoutId),
        eq(checkouts.status, rowStatus('failed')),
        sql`${checkouts.runId} is null`,
        sql`${checkouts.orderId} is null`,
        failureFlaggedSql('notStarted'),
      ),
    )
    .returning();
  return row;
}

/**
 * A run compensating a checkout that is still pending (no answer recorded yet) marks it failed
 * first, with a placeholder the run's recordCheckoutFailure replaces (`details.closing`): from
 * then on a stalled worker's late createOrder cannot place it (createOrder places a pending
 * checkout only). A request that meets the placeholder is not answered from it (the run is
 * still deciding what to tell): it attaches to the run, as for a pending row. No-op on a row
 * already answered (placed, failed).
 */
export async function markCheckoutClosing(db: Db, checkoutId: string): Promise<void> {
  await db
    .update(checkouts)
    .set({ status: rowStatus('failed'), failure: CLOSING_FAILURE, updatedAt: sql`now()` })
    .where(and(eq(checkouts.checkoutId, checkoutId), eq(checkouts.status, rowStatus('pending'))));
}

const CLOSING_FAILURE: StoredFailure = { code: 'checkout_failed', message: 'the checkout is being compensated', details: { closing: true } };

export const isClosingCheckout = (row: Checkout): boolean => row.status === rowStatus('failed') && failureFlagged(row.failure, 'closing');

/**
 * The checkout failed or was cancelled. An order it placed keeps its id here: the
 * storefront's original answer (201 with that order) is what a replay of the same request
 * gets, while GET /checkouts/:id shows the current state.
 */
export async function failCheckout(
  db: Db,
  checkoutId: string,
  failure: StoredFailure,
  total?: { amount: number; currency: string },
  onlyIfFailed = false,
): Promise<boolean> {
  const rows = await db
    .update(checkouts)
    .set({
      status: rowStatus('failed'),
      failure,
      totalAmount: total?.amount ?? sql`${checkouts.totalAmount}`,
      currency: total?.currency ?? sql`${checkouts.currency}`,
      updatedAt: sql`now()`,
    })
    .where(onlyIfFailed ? and(eq(checkouts.checkoutId, checkoutId), eq(checkouts.status, rowStatus('failed'))) : eq(checkouts.checkoutId, checkoutId))
    .returning({ checkoutId: checkouts.checkoutId });
  return rows.length > 0;
}
