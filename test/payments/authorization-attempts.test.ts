import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { createActivities, type ActivityDeps, type OrderlyActivities } from '../../activities';
import { loadConfig } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { createRedis, type RedisClient } from '../../db/redis';
import { authorizationAttempts, localGatewayOperations } from '../../db/schema/payment';
import { findOperation } from '../../db/stores/local-gateway-ledger';
import { markAuthorizationAttempt } from '../../db/stores/payments';
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

  it('an attempt the gateway does not know (its call not landed yet, or lost): re-sent under its key, the one authorization voided, the key closed', async () => {
    const { checkoutId, authorization, voidKey } = checkout();
    // the lost task marked its attempt; its gateway call has not landed (or never will)
    await markAuthorizationAttempt(dbs.payment, { ...authorization, amount: 1500, currency: 'USD' });
    expect(await findOperation(dbs.payment, authorization.idempotencyKey)).toBeUndefined();
    const returned = await activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true });
    // the re-send asked the gateway for the key's one answer: it made the authorization, and it is voided
    expect(returned).toEqual({ action: 'voided', amount: 1500, currency: 'USD' });
    const made = await findOperation(dbs.payment, authorization.idempotencyKey);
    expect(made).toMatchObject({ operation: 'authorize', outcome: 'authorized' });
    expect(await findOperation(dbs.payment, voidKey)).toMatchObject({ operation: 'void', paymentRef: made?.paymentRef });
    expect(await fate(authorization.idempotencyKey)).toMatchObject({ fate: 'voided', gatewayRef: made?.paymentRef });
    // the lost call lands late: the same key gets the same (voided) authorization back, never a second one
    await deps.gateway.authorize({ idempotencyKey: authorization.idempotencyKey, amount: 1500, currency: 'USD', paymentToken: 'tok_visa', reference: checkoutId });
    const ops = await dbs.payment.select().from(localGatewayOperations).where(eq(localGatewayOperations.paymentRef, made?.paymentRef ?? ''));
    expect(ops.filter((o) => o.operation === 'authorize')).toHaveLength(1);
    // a stale re-run of the lost task is not sent; asked again, the compensation's answer stands
    await expect(activities.authorizePayment(authorization)).rejects.toMatchObject({ type: 'authorization_abandoned' });
    expect(await activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true })).toEqual({ action: 'voided', amount: 1500, currency: 'USD' });
  });

  it('an attempt whose key the gateway declined: nothing to void, the key closed', async () => {
    const { checkoutId, authorization, voidKey } = checkout('tok_chargeDeclined');
    await expect(activities.authorizePayment(authorization)).rejects.toMatchObject({ type: 'payment_declined' });
    expect(await activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true })).toMatchObject({ action: 'none' });
    expect(await fate(authorization.idempotencyKey)).toMatchObject({ fate: 'abandoned' });
  });

  it('an authorize and a compensation racing on one key: either it was sent and is voided, or it was never sent', async () => {
    for (let i = 0; i < 10; i++) {
      const { checkoutId, authorization, voidKey } = checkout();
      const ask = () => activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true });
      // each retried as the workflow's activity retries would (on a loaded machine a call can time
      // out waiting on the key's row lock, and the void answers AuthorizationAttemptInFlightError
      // while the authorize is on its way): only the fence's refusal is final
      const retried = async <T>(call: () => Promise<T>): Promise<T> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await call();
          } catch (err) {
            if ((err as { type?: string }).type === 'authorization_abandoned' || attempt >= 5) throw err;
          }
        }
      };
      const [authorized, voided] = await Promise.allSettled([retried(() => activities.authorizePayment(authorization)), retried(ask)]);
      const sent = await findOperation(dbs.payment, authorization.idempotencyKey);
      if (authorized.status === 'rejected') {
        expect(authorized.reason).toMatchObject({ type: 'authorization_abandoned' });
        expect(sent).toBeUndefined();
        expect(voided).toMatchObject({ status: 'fulfilled', value: { action: 'none' } });
      } else {
        // the attempt won: the compensation voids it (its re-send waits for the call on the way and gets the same authorization)
        expect(sent).toBeDefined();
        expect(voided).toMatchObject({ status: 'fulfilled', value: { action: 'voided' } });
        const ops = await dbs.payment.select().from(localGatewayOperations).where(eq(localGatewayOperations.paymentRef, sent?.paymentRef ?? ''));
        expect(ops.filter((o) => o.operation === 'authorize')).toHaveLength(1);
      }
    }
  });
  // The checkout's local fence (fenceUnseenAuthorization, patch checkout-refusal-settled-locally):
  // a refused checkout asks it instead of starting the unseen-void child; only a mark starts the child.
  it('the fence: no mark → `abandoned` written in one statement, and a stale authorize afterwards is refused, nothing sent', async () => {
    const { checkoutId, authorization } = checkout();
    expect(await activities.fenceUnseenAuthorization({ checkoutId, idempotencyKey: authorization.idempotencyKey, amount: authorization.amount })).toEqual({ fate: 'abandoned' });
    await expect(activities.authorizePayment(authorization)).rejects.toMatchObject({ type: 'authorization_abandoned' });
    expect(await findOperation(dbs.payment, authorization.idempotencyKey)).toBeUndefined();
    // asked again (a re-run of the refusing task): the same answer
    expect(await activities.fenceUnseenAuthorization({ checkoutId, idempotencyKey: authorization.idempotencyKey, amount: authorization.amount })).toEqual({ fate: 'abandoned' });
  });

  it('the fence racing a stale authorize on one key: fenced and never sent, or marked (the child voids it)', async () => {
    const outcomes = { fenced: 0, marked: 0 };
    for (let i = 0; i < 20; i++) {
      const { checkoutId, authorization, voidKey } = checkout();
      const [authorized, fenced] = await Promise.allSettled([
        activities.authorizePayment(authorization),
        activities.fenceUnseenAuthorization({ checkoutId, idempotencyKey: authorization.idempotencyKey, amount: authorization.amount }),
      ]);
      expect(fenced.status).toBe('fulfilled');
      const fate = fenced.status === 'fulfilled' ? fenced.value.fate : undefined;
      const sent = await findOperation(dbs.payment, authorization.idempotencyKey);
      if (fate === 'abandoned') {
        outcomes.fenced += 1;
        // the checkout starts no child: nothing may have been sent, nor be sent later
        expect(authorized).toMatchObject({ status: 'rejected', reason: { type: 'authorization_abandoned' } });
        expect(sent).toBeUndefined();
        await expect(activities.authorizePayment(authorization)).rejects.toMatchObject({ type: 'authorization_abandoned' });
      } else {
        outcomes.marked += 1;
        expect(fate).toBe('attempted');
        expect(authorized.status).toBe('fulfilled');
        // the checkout starts the child: its void (onlyIfAttempted) releases what the authorize made
        expect(await activities.voidPayment({ checkoutId, idempotencyKey: voidKey, authorization, onlyIfAttempted: true })).toMatchObject({ action: 'voided', amount: 1500 });
        expect(await findOperation(dbs.payment, voidKey)).toMatchObject({ operation: 'void' });
      }
    }
    console.log(JSON.stringify(outcomes));
  });
});
