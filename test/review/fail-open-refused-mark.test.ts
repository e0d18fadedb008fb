import { randomBytes } from 'node:crypto';
import { createActivities } from '../../activities';
import { GatewayUnavailableError } from '../../activities/gateways/payment-gateway';
import { loadConfig } from '../../config';
import { createRedis } from '../../db/redis';
import { findOperation } from '../../db/stores/local-gateway-ledger';
import { createLogger } from '../../logger';
import { buildActivityDeps } from '../../workers/deps';
import { eventually } from '../helpers/eventually';
import { activitiesOnOwnRedis, type OwnRedisActivities } from '../helpers/own-redis-activities';

/**
 * Review: the fail-open `dispatched` mark + the `refused` mark written by "a first attempt".
 * The checkout's authorizePayment is a LOCAL activity (workflows/checkout-calls.ts): a worker
 * that dies mid-step (or a workflow task that times out) makes another worker re-run it, and
 * that re-run is attempt 1 again. So:
 *   1. attempt 1 (worker A): Redis blips, the breaker admits (fail open), the `dispatched` mark
 *      is not written — and then (fixed: fails closed) the gateway is not asked either; worker A
 *      dies. (Before the fix the gateway AUTHORIZED here with no mark.)
 *   2. Redis is back; meanwhile the gateway breaker opened (other checkouts' timeouts).
 *   3. re-run on worker B, attempt 1 again: refused → `refused` written (SET NX wins: no mark)
 *      → payment_unavailable → compensation voidPayment reads `refused` → returns 'none'
 *      WITHOUT asking the gateway. Before the fix the authorization stayed held, no order, the
 *      customer told "nothing was charged"; now the gateway holds nothing for the key, so the
 *      skip is right.
 */
describe('review: fail-open dispatched mark + attempt-1 re-run of the local authorize step', () => {
  let own: OwnRedisActivities;
  beforeAll(async () => {
    own = await activitiesOnOwnRedis();
  });
  afterAll(async () => {
    await own?.close();
  });

  it('a dispatched authorization is never skipped by its void', async () => {
    const { redis, dbs, deps, activities } = own;
    const checkoutId = `chk_${randomBytes(8).toString('hex')}`;
    const authorization = { checkoutId, idempotencyKey: `wf/${checkoutId}/authorize`, amount: { amount: 900, currency: 'USD' }, paymentToken: 'tok_visa' };
    const breaker = deps.breakers!.paymentGateway;

    // 1. worker A's attempt 1 while Redis is down: the `dispatched` mark cannot be written, so the
    //    gateway is never asked (fails closed, a retryable error); worker A then dies
    const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', REDIS_URL: redis.url, CIRCUIT_NAMESPACE: deps.config.circuit.namespace });
    const clientA = createRedis(config, { maxRetriesPerRequest: 2 });
    clientA.on('error', () => undefined);
    const depsA = buildActivityDeps({ config, logger: createLogger('silent'), dbs, redis: clientA });
    await redis.down();
    await expect(createActivities(depsA).authorizePayment(authorization)).rejects.toMatchObject({ name: 'DispatchMarkUnavailableError' });
    expect(await findOperation(dbs.payment, authorization.idempotencyKey)).toBeUndefined();
    depsA.mailer.close();
    clientA.disconnect();

    // 2. Redis back; the gateway breaker opens (outages counted from other calls)
    await redis.up();
    await eventually(() => breaker.snapshot().then(() => true), 10_000, 'redis back');
    for (let i = 0; i < breaker.settings.failureThreshold; i++) {
      await breaker.run(() => Promise.reject(new GatewayUnavailableError('gateway down')), { isOutage: () => true }).catch(() => undefined);
    }
    expect((await breaker.snapshot()).state).toBe('open');

    // 3. worker B re-runs the local activity: attempt 1 again (outside an activity context the wrapper reads 1 too)
    await expect(activities.authorizePayment(authorization)).rejects.toMatchObject({ type: 'payment_unavailable' });
    // the compensation: the void may skip the gateway only for an authorization it never received
    const voided = await activities.voidPayment({ checkoutId, idempotencyKey: `wf/${checkoutId}/void`, authorization }).catch((err: unknown) => ({ error: String(err) }));
    const held = await findOperation(dbs.payment, authorization.idempotencyKey);
    if (held) expect(voided).not.toMatchObject({ action: 'none' });
    else expect(voided).toMatchObject({ action: 'none', amount: 0 });
    expect(held).toBeUndefined();
  });
});
