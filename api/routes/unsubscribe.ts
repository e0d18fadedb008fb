import { Router } from 'express';
import { optOut, verifyUnsubscribeToken } from '../../db/stores/unsubscribe';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { parse } from '../validate';
import { unsubscribeQuerySchema } from '../schemas/orders';

/** The link in every cart reminder: a signed token, so nobody unsubscribes someone else. */
export function unsubscribeRouter({ dbs, config }: AppDeps): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const { token } = parse(unsubscribeQuerySchema, req.query, 'query');
    const email = verifyUnsubscribeToken(config.recovery.unsubscribeSecret, token);
    if (!email) throw new AppError('invalid_request', 'this unsubscribe link is not valid');
    await optOut(dbs.notification, email);
    res.json({ unsubscribed: true, email });
  });
  return router;
}
