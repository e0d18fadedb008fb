import { WorkflowUpdateFailedError, WorkflowUpdateStage, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Router, type Response } from 'express';
import type { CartStore } from '../../db/stores/cart';
import { findCheckoutByKey, getCheckout, openCheckout } from '../../db/stores/checkouts';
import type { Checkout } from '../../db/schema/order';
import type { CheckoutOutcome } from '../../domain/checkout';
import type { Money } from '../../domain/money';
import { checkoutStartOperation } from '../../temporal/checkout';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { checkoutStatusQuery, placeOrderUpdate, type CheckoutInput, type CheckoutStatusView } from '../../workflows/messages';
import type { AppDeps } from '../deps';
import { AppError, isErrorCode } from '../errors';
import { requestHash, requireIdempotencyKey } from '../idempotency';
import { checkoutBodySchema, type CheckoutBody } from '../schemas/checkouts';
import { parse } from '../validate';
import { checkoutIdSchema } from '../schemas/orders';

interface CheckoutView {
  checkoutId: string;
  status: 'pending' | 'placed' | 'failed';
  orderId?: string;
  total?: Money;
  failure?: { code: string; message: string };
  step?: string;
  statusUrl: string;
}

/** One shape, one key order, whether the answer comes from the workflow or the store. */
function checkoutView(v: Omit<CheckoutView, 'statusUrl'>): CheckoutView {
  const view: CheckoutView = { checkoutId: v.checkoutId, status: v.status, statusUrl: `/checkouts/${v.checkoutId}` };
  if (v.orderId) view.orderId = v.orderId;
  if (v.total) view.total = v.total;
  if (v.failure) view.failure = { code: v.failure.code, message: v.failure.message };
  return view;
}

/** GET /checkouts/:id: where the checkout stands now (a placed order may since have failed). */
function viewOf(row: Checkout): CheckoutView {
  return checkoutView({
    checkoutId: row.checkoutId,
    status: row.status,
    orderId: row.orderId ?? undefined,
    total: row.totalAmount !== null && row.currency ? { amount: row.totalAmount, currency: row.currency } : undefined,
    failure: row.failure ?? undefined,
  });
}

/**
 * What a replay of the same POST answers: the original answer. A checkout that placed an
 * order answered 201 with it, and keeps answering so after a later failure or cancel.
 */
function answeredViewOf(row: Checkout): CheckoutView {
  if (row.orderId && row.totalAmount !== null && row.currency) {
    return checkoutView({ checkoutId: row.checkoutId, status: 'placed', orderId: row.orderId, total: { amount: row.totalAmount, currency: row.currency } });
  }
  return viewOf(row);
}

function viewOfOutcome(outcome: CheckoutOutcome): CheckoutView {
  return outcome.status === 'placed'
    ? checkoutView({ checkoutId: outcome.checkoutId, status: 'placed', orderId: outcome.orderId, total: outcome.total })
    : checkoutView({ checkoutId: outcome.checkoutId, status: 'failed', total: outcome.total, failure: outcome.failure });
}

/** Answers a POST /checkouts: 201 placed, 202 pending, or the failure's 4xx. */
function answer(res: Response, view: CheckoutView, details?: unknown): void {
  if (view.status === 'placed') {
    res.status(201).json(view);
  } else if (view.status === 'pending') {
    res.status(202).location(view.statusUrl).json(view);
  } else {
    const code = view.failure?.code;
    const extra = details && typeof details === 'object' ? details : {};
    throw new AppError(isErrorCode(code) ? code : 'checkout_failed', view.failure?.message ?? 'the checkout failed', {
      checkoutId: view.checkoutId,
      ...extra,
    });
  }
}

function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

/**
 * Starts the cart's checkout workflow (or attaches to it) and submits this checkout as an
 * update. Waits at most `waitMs` for the order to be placed or refused.
 */
async function runCheckout(client: Client, taskQueue: string, checkout: Checkout, body: CheckoutBody, waitMs: number): Promise<CheckoutOutcome | 'timeout'> {
  const input: CheckoutInput = {
    answerBy: Date.now() + waitMs,
    checkoutId: checkout.checkoutId,
    cartId: body.cartId,
    email: body.email,
    customerId: body.customerId,
    paymentToken: body.paymentToken,
    shippingAddress: body.shippingAddress,
    expectedTotal: body.expectedTotal,
  };
  const start = checkoutStartOperation(taskQueue, checkout.workflowId, input);
  const outcome = (async () => {
    const handle = await client.workflow.startUpdateWithStart(placeOrderUpdate, {
      args: [{ checkoutId: checkout.checkoutId }],
      updateId: `place-order-${checkout.checkoutId}`,
      waitForStage: WorkflowUpdateStage.ACCEPTED,
      startWorkflowOperation: start,
    });
    return handle.result();
  })();
  try {
    return await Promise.race([outcome, timeout(waitMs)]);
  } catch (err) {
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === 'checkout_in_progress') {
      throw new AppError('checkout_in_progress', 'another checkout of this cart is running', cause.details?.[0]);
    }
    throw err;
  } finally {
    outcome.catch(() => undefined);
  }
}

export function checkoutsRouter(deps: AppDeps & { carts: CartStore }): Router {
  const { dbs, carts, temporal, config } = deps;
  const router = Router();

  router.post('/', async (req, res) => {
    const key = requireIdempotencyKey(req);
    const body = parse(checkoutBodySchema, req.body, 'checkout');
    const hash = requestHash(body);

    let checkout = await findCheckoutByKey(dbs.order, body.cartId, key);
    if (!checkout) {
      const cart = await carts.get(body.cartId);
      if (!cart) throw new AppError('not_found', 'no such cart');
      if (cart.lines.length === 0) throw new AppError('cart_empty', 'the cart is empty');
      ({ checkout } = await openCheckout(dbs.order, {
        cartId: body.cartId,
        idempotencyKey: key,
        requestHash: hash,
        email: body.email,
        workflowId: checkoutWorkflowId(body.cartId),
      }));
    }
    if (checkout.requestHash !== hash) {
      throw new AppError('idempotency_key_reused', 'this Idempotency-Key was used with a different request');
    }
    if (checkout.status !== 'pending') return answer(res, answeredViewOf(checkout), checkout.failure?.details);
    // The cart's lines cannot change while its checkout runs (the workflow unlocks a failed one).
    const holder = await carts.lock(body.cartId, checkout.checkoutId, Date.now() + config.checkout.holdTtlSeconds * 1000);
    if (holder && holder !== checkout.checkoutId) {
      throw new AppError('checkout_in_progress', 'another checkout of this cart is running', { checkoutId: holder });
    }

    const outcome = await runCheckout(temporal, config.temporal.taskQueue, checkout, body, config.checkout.waitMs);
    if (outcome === 'timeout') return answer(res, viewOf(checkout));
    const view = viewOfOutcome(outcome);
    return answer(res, view, outcome.status === 'failed' ? outcome.failure.details : undefined);
  });

  router.get('/:checkoutId', async (req, res) => {
    const checkoutId = parse(checkoutIdSchema, req.params.checkoutId, 'checkout id');
    const checkout = await getCheckout(dbs.order, checkoutId);
    if (!checkout) throw new AppError('not_found', 'no such checkout');
    const view = viewOf(checkout);
    if (checkout.status === 'pending' && checkout.runId) {
      const status = await temporal.workflow
        .getHandle(checkout.workflowId, checkout.runId)
        .query(checkoutStatusQuery)
        .catch((): CheckoutStatusView | undefined => undefined);
      if (status) view.step = status.step;
    }
    res.json(view);
  });

  return router;
}
