/**
 * The local gateway's customer-facing 3-D Secure step, as Stripe.js runs it in the browser
 * with the intent's client secret (dev and tests only, never in production). It belongs to the
 * simulated processor, not to Orderly: the one module of api/ that reaches activities/gateways
 * (eslint.config.mjs lets it).
 */
import { Router } from 'express';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { createPaymentGateway } from '../activities/gateways';
import { LocalGateway } from '../activities/gateways/local-gateway';
import { AppError } from './errors';
import { localGatewayStepSchema } from './schemas/checkouts';
import { parse } from './validate';


export function localGatewayPage(config: Config, paymentDb: Db): Router | undefined {
  if (config.payment.gateway !== 'local' || config.mode === 'production') return undefined;
  const gateway = createPaymentGateway(config, { paymentDb });
  if (!(gateway instanceof LocalGateway)) return undefined;
  const router = Router();
  /** POST /local-gateway/authenticate { clientSecret, outcome: pass|fail } → where the intent stands. */
  router.post('/authenticate', async (req, res) => {
    const body = parse(localGatewayStepSchema, req.body, '3-D Secure step');
    const state = await gateway.authenticate(body.clientSecret, body.outcome);
    if (!state) throw new AppError('not_found', 'no payment waits for 3-D Secure under this client secret');
    res.json({ id: state.ref, status: state.status });
  });
  return router;
}
