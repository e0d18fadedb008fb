import express, { Router, type RequestHandler } from 'express';
import { receivePaymentEvent } from '../../usecases/receive-payment-event';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';

/**
 * The largest event accepted. Stripe's events are a few kilobytes (an object and its
 * previous attributes); anything far larger is refused before it is buffered whole.
 */
export const WEBHOOK_BODY_LIMIT = '256kb';

/**
 * The raw bytes, whatever the content type: the signature is over the exact bytes sent, so
 * no JSON parser may run first (the app mounts this router before its JSON body guards).
 */
function rawBody(): RequestHandler {
  const parser = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  return (req, res, next) => {
    parser(req, res, (err?: unknown) => {
      if (!err) return next();
      const { type, status } = err as { type?: string; status?: number };
      if (type === 'entity.too.large') return next(new AppError('payload_too_large', `the event is larger than ${WEBHOOK_BODY_LIMIT}`));
      if (typeof status === 'number' && status >= 400 && status < 500) {
        return next(new AppError('invalid_request', 'the request body could not be read', [{ field: '(body)', message: 'unreadable body' }]));
      }
      next(err);
    });
  };
}

/** Signed gateway events (Stripe's webhooks, and the local gateway's). */
export function webhooksRouter(deps: AppDeps): Router {
  const router = Router();

  router.post('/stripe', rawBody(), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const result = await receivePaymentEvent(deps, raw, req.get('stripe-signature'));
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.status(200).json(result.kind === 'ignored' ? { received: true, eventId: result.eventId, ignored: result.why } : { received: true, eventId: result.eventId, outcome: result.outcome });
  });

  return router;
}
