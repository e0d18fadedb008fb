import { Router } from 'express';
import { listOrderRefunds } from '../../usecases/list-refunds';
import { requestRefund } from '../../usecases/request-refund';
import { actorOf, optionalSupportActor, readsAsSupport, requireRole } from '../auth';
import { customerOf } from '../customer-auth';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { requestHash, requireIdempotencyKey } from '../idempotency';
import { orderIdSchema } from '../schemas/orders';
import { refundBodySchema } from '../schemas/refunds';
import { parse } from '../validate';

export function refundsRouter(deps: AppDeps): Router {
  const router = Router({ mergeParams: true });
  const orderIdOf = (params: { orderId?: unknown }) => parse(orderIdSchema, params.orderId, 'order id');

  // refunds are a support action; the order's holder may still read them (GET below)
  router.post('/', requireRole('support'), async (req, res) => {
    const orderId = orderIdOf(req.params);
    const key = requireIdempotencyKey(req);
    const body = parse(refundBodySchema, req.body, 'refund');
    const result = await requestRefund(deps, orderId, { key, requestHash: requestHash(body) }, body, actorOf(res));
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    // 201 with the outcome, or 202 while its workflow runs on
    res.status(result.kind === 'settled' ? 201 : 202).json(result.view);
  });

  // a support credential (optional here) reads any order's refunds, as it reads the order
  router.get('/', optionalSupportActor, async (req, res) => {
    const support = readsAsSupport(res);
    const result = await listOrderRefunds(deps, orderIdOf(req.params), support ? { support: true } : customerOf(res));
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.json({ items: result.items });
  });

  return router;
}
