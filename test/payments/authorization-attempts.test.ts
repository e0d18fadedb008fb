import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { createActivities, type ActivityDeps, type OrderlyActivities } from '../../activities';
import { loadConfig } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { createRedis, type RedisClient } from '../../db/redis';
import { authorizationAttempts } from '../../db/schema/payment';
import { findOperation } from '../../db/stores/local-gateway-ledger';
import { abandonQuietAttempt, markAuthorizationAttempt } from '../../db/stores/payments';
import { ATTEMPT_QUIET_MS } from '../../activities/payment';
import { createLogger } from '../../logger';
import { buildActivityDeps } from '../../workers/deps';

/**
 * The authorization-attempt mark (payment.authorization_attempts): written before every
 * authorize call, it answers a compensation that never saw the authorize step in its run (a lost
 * workflow task made it) — voidPayment with `onlyIfAttempted`. One that finds no mark fences the
 * key off (`abandoned`), so a stale re-run of the lost task cannot authorize after the checkout
 * was compensated.
 */
describe('authorization attempts: the compensation of a run that never saw its authorize step', () => {
  let dbs: Databases;
  let client: RedisClient;
  let deps: ActivityDeps;
  let activities: OrderlyActivities;
  beforeAll(() => {
    const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', CIRCUIT_NAMESPACE: `t-${randomBytes(5).toString('hex')}` });
    dbs = createDatabases(config);
    client = createRedis(config);
    deps = buildActivityDeps({ config, logger: createLogger('silent'), dbs, redis: client });
    activities = createActivities(deps);
  });
  afterAll(async () => {
    deps.mailer.close();
    client.disconnect();
    await dbs.close();
  });

  const checkout = (paymentToken = 'tok_visa') => {
    const checkoutId = `chk_${randomBytes(8).toString('hex')}`;
    return {
      checkoutId,
      authorization: { checkoutId, idempotencyKey: `wf/${checkoutId}/authorize`, amount: { amount: 1500, currency: 'USD' }, paymentToken },
      voidKey: `wf/${checkoutId}/void`,
    };
  };
  const fate = async (key: string) => (await dbs.payment.select().from(authorizationAttempts).where(eq(authorizationAttempts.idempotencyKey, key)))[0];

  it('an authorization that was sent is voided, though the run never saw it', async () => {
    const { checkoutId, authorization, voidKey } = checkout();
    await activities.authorizePayment(authorization);
    expect(await fate(authorization.idempotencyKey)).toMatchObject({ fate: 'attempted', checkoutId });
    const returned = await activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true });
    expect(returned).toEqual({ action: 'voided', amount: 1500, currency: 'USD' });
    expect(await findOperation(dbs.payment, voidKey)).toMatchObject({ operation: 'void' });
  });

  it('one waiting for 3-D Secure (no payment recorded yet) keeps its intent id on the mark and is cancelled', async () => {
    const { checkoutId, authorization, voidKey } = checkout('tok_threeDSecure2Required');
    const waiting = await activities.authorizePayment(authorization);
    expect(waiting.status).toBe('requires_action');
    expect(await fate(authorization.idempotencyKey)).toMatchObject({ fate: 'attempted', gatewayRef: waiting.paymentRef });
    await activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true });
    expect(await findOperation(dbs.payment, voidKey)).toMatchObject({ operation: 'void', paymentRef: waiting.paymentRef });
  });

  it('none sent: nothing to void, and a stale re-run of the lost task cannot send it afterwards', async () => {
    const { checkoutId, authorization, voidKey } = checkout();
    const returned = await activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true });
    expect(returned).toEqual({ action: 'none', amount: 0, currency: 'USD' });
    expect(await fate(authorization.idempotencyKey)).toMatchObject({ fate: 'abandoned' });
    await expect(activities.authorizePayment(authorization)).rejects.toMatchObject({ type: 'authorization_abandoned' });
    expect(await findOperation(dbs.payment, authorization.idempotencyKey)).toBeUndefined();
    // asked again (a retried compensation), the answer stands
    expect(await activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true })).toMatchObject({ action: 'none' });
  });

  it('an attempt the gateway does not know (its call may be on the way) is asked again until quiet, then abandoned', async () => {
    const { checkoutId, authorization, voidKey } = checkout();
    // the lost task marked its attempt; its gateway call has not landed (or never will)
    await markAuthorizationAttempt(dbs.payment, authorization);
    const ask = () => activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true });
    await expect(ask()).rejects.toMatchObject({ name: 'AuthorizationAttemptInFlightError' });
    const quiet = () => dbs.payment.update(authorizationAttempts).set({ attemptedAt: sql`now() - interval '3 minutes'` }).where(eq(authorizationAttempts.idempotencyKey, authorization.idempotencyKey));
    await quiet();
    // a newer attempt started after the compensation looked: it is waited for in turn (compare-and-set)
    const seen = await fate(authorization.idempotencyKey);
    await markAuthorizationAttempt(dbs.payment, authorization);
    await quiet();
    expect((await fate(authorization.idempotencyKey))?.attempts).toBe((seen?.attempts ?? 0) + 1);
    expect(await abandonQuietAttempt(dbs.payment, authorization.idempotencyKey, seen?.attempts ?? 0, ATTEMPT_QUIET_MS)).toBe(false);
    expect(await fate(authorization.idempotencyKey)).toMatchObject({ fate: 'attempted' });
    // quiet now and nothing at the gateway: nothing to void, and no later attempt can send it
    expect(await ask()).toEqual({ action: 'none', amount: 0, currency: 'USD' });
    expect(await fate(authorization.idempotencyKey)).toMatchObject({ fate: 'abandoned' });
    await expect(activities.authorizePayment(authorization)).rejects.toMatchObject({ type: 'authorization_abandoned' });
    expect(await findOperation(dbs.payment, authorization.idempotencyKey)).toBeUndefined();
  });

  it('an authorize and a compensation racing on one key: either it was sent and is voided, or it was never sent', async () => {
    for (let i = 0; i < 10; i++) {
      const { checkoutId, authorization, voidKey } = checkout();
      const ask = () => activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true });
      const [authorized, voided] = await Promise.allSettled([activities.authorizePayment(authorization), ask()]);
      const sent = await findOperation(dbs.payment, authorization.idempotencyKey);
      if (authorized.status === 'rejected') {
        expect(authorized.reason).toMatchObject({ type: 'authorization_abandoned' });
        expect(sent).toBeUndefined();
        expect(voided).toMatchObject({ status: 'fulfilled', value: { action: 'none' } });
      } else {
        // the attempt won: the compensation voids it, or (its call still on the way) asks again, as its retries do
        expect(sent).toBeDefined();
        if (voided.status === 'rejected') {
          expect(voided.reason).toMatchObject({ name: 'AuthorizationAttemptInFlightError' });
          expect((await ask()).action).toBe('voided');
        } else {
          expect(voided.value.action).toBe('voided');
        }
      }
    }
  });
});
