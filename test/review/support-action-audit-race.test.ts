/* eslint-disable @typescript-eslint/no-explicit-any -- the test wraps the real Temporal client and its handles in Proxies */
import type { Client } from '@temporalio/client';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { cancelParkedOrder, retryParkedOrder } from '../../usecases/support-actions';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review: support actions write their order event (who, why) BEFORE the workflow has taken the
 * action (usecases/support-actions.ts: addSupportEvent, then handle.signal). The workflow may
 * ignore the signal (not waiting any more: another person's retry/cancel won), or the signal may
 * never arrive (Temporal down) — the order's history then names a person and an action that
 * never happened.
 */
describe('review: a support event is recorded only for an action the workflow took', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  const alice = { id: 'spt_alice', name: 'Alice', roles: ['support'] as const };
  const bob = { id: 'spt_bob', name: 'Bob', roles: ['support'] as const };

  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  });
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  async function parkedCheckout(key: string) {
    const sku = await createProduct(stack.dbs, { priceAmount: 800, onHand: 5 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } });
    gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['capture'] });
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body: { cartId, email: 'race@example.com', paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    const orderId = res.body.orderId as string;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await stack.http('GET', `/orders/${orderId}`)).body.status !== 'needs_attention') await new Promise((r) => setTimeout(r, 200));
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('needs_attention');
    return { orderId, cartId };
  }

  /** The real client, but each handle's query waits until `parties` callers have queried: both see "parked". */
  function clientWith(real: Client, wrapHandle: (h: any) => any): Client {
    const workflow = new Proxy(real.workflow, {
      get(t, p) {
        if (p === 'getHandle') return (...args: any[]) => wrapHandle((t.getHandle as any)(...args));
        const v = Reflect.get(t, p);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    return new Proxy(real, { get: (t, p) => (p === 'workflow' ? workflow : Reflect.get(t, p)) });
  }
  const passThrough = (h: any, overrides: Record<string, unknown>) =>
    new Proxy(h, { get: (t, p) => (p in overrides ? overrides[p as string] : typeof t[p] === 'function' ? t[p].bind(t) : t[p]) });

  const supportEvents = async (orderId: string) =>
    ((await stack.http('GET', `/orders/${orderId}`, { headers: admin })).body.events as { type: string; reason?: string; actor?: { name: string } }[]).filter((e) =>
      e.type.startsWith('support_'),
    );

  it('Alice cancels while Bob retries (both saw it parked): the history records only what happened', async () => {
    const { orderId, cartId } = await parkedCheckout('race-1');
    gateway.setFaults(null); // Bob's retry would succeed
    let queried = 0;
    let release!: () => void;
    const bothQueried = new Promise<void>((r) => (release = r));
    const temporal = clientWith(stack.temporal, (h) =>
      passThrough(h, {
        query: async (...a: unknown[]) => {
          const v = await h.query(...a);
          if (++queried === 2) release();
          await bothQueried;
          return v;
        },
      }),
    );
    const deps = { dbs: stack.dbs, temporal };
    const [cancel, retry] = await Promise.all([
      cancelParkedOrder(deps, orderId, { actor: alice, reason: 'customer asked to cancel' }),
      retryParkedOrder(deps, orderId, { actor: bob, reason: 'gateway is back' }),
    ]);
    // the workflow decides: one is taken, the other (if it lost) is refused with a conflict (409)
    const kinds = [cancel, retry].map((r) => (r.kind === 'rejected' ? r.code : r.kind));
    expect([['cancelling', 'support_action_conflict'], ['support_action_conflict', 'retrying'], ['cancelling', 'order_not_parked'], ['order_not_parked', 'retrying']]).toContainEqual(kinds);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result().catch(() => undefined);
    const order = (await stack.http('GET', `/orders/${orderId}`, { headers: admin })).body;
    const events = await supportEvents(orderId);
    // the workflow did ONE thing (cancelled or retried); the history must not say both happened
    const happened = order.status === 'cancelled' ? 'support_cancel' : 'support_retry';
    expect({ status: order.status, events: events.map((e) => `${e.type} by ${e.actor?.name}`) }).toEqual({
      status: order.status,
      events: [`${happened} by ${happened === 'support_cancel' ? 'Alice' : 'Bob'}`],
    });
  });

  it('a cancel whose signal does not reach the workflow (Temporal down) leaves no "support_cancel" behind', async () => {
    const { orderId, cartId } = await parkedCheckout('race-2');
    const temporal = clientWith(stack.temporal, (h) =>
      passThrough(h, {
        signal: async () => {
          throw new Error('14 UNAVAILABLE: temporal frontend unreachable');
        },
        // the admin API sends an update now: the same transport failure
        executeUpdate: async () => {
          throw new Error('14 UNAVAILABLE: temporal frontend unreachable');
        },
      }),
    );
    const handle = stack.temporal.workflow.getHandle(`checkout-${cartId}`);
    try {
    await expect(cancelParkedOrder({ dbs: stack.dbs, temporal }, orderId, { actor: alice, reason: 'customer asked to cancel' })).rejects.toThrow(/UNAVAILABLE/);
    // the action was not taken: the order still waits for support ...
    expect((await stack.temporal.workflow.getHandle(`checkout-${cartId}`).describe()).status.name).toBe('RUNNING');
    expect((await stack.http('GET', `/orders/${orderId}`)).body.status).toBe('needs_attention');
    // ... so its history must not say Alice cancelled it
    expect(await supportEvents(orderId)).toEqual([]);
    } finally {
      await handle.terminate('review test cleanup').catch(() => undefined);
    }
  });

  it('two support people cancel the same parked order at once (plain HTTP, their own tokens): one cancellation, one support_cancel', async () => {
    const token = async (name: string) =>
      (await stack.http('POST', '/admin/support-tokens', { headers: admin, body: { name, roles: ['support'] } })).body.token as string;
    const [carol, dave] = await Promise.all([token('Carol'), token('Dave')]);
    const { orderId, cartId } = await parkedCheckout('race-3');
    const cancel = (t: string, reason: string) => stack.http('POST', `/admin/orders/${orderId}/cancel`, { headers: { Authorization: `Bearer ${t}` }, body: { reason } });
    const [a, b] = await Promise.all([cancel(carol, 'customer asked by phone'), cancel(dave, 'suspected fraud')]);
    await stack.temporal.workflow.getHandle(`checkout-${cartId}`).result().catch(() => undefined);
    gateway.setFaults(null);
    const order = (await stack.http('GET', `/orders/${orderId}`, { headers: admin })).body;
    expect(order.status).toBe('cancelled');
    const cancelled = (order.events as { type: string; reason?: string }[]).find((e) => e.type === 'order_cancelled');
    const recorded = (await supportEvents(orderId)).map((e) => `${e.actor?.name}: ${e.reason}`);
    // the workflow cancelled once, for one reason; the history must not credit two people with two reasons
    // (a fix may refuse the second with 409 or accept it as a no-op, but not record it as a cancel)
    expect({ answers: [a.status, b.status].filter((s) => s !== 202 && s !== 409), recorded, cancelledFor: cancelled?.reason }).toEqual({
      answers: [],
      recorded: [expect.stringContaining(cancelled?.reason ?? '?')],
      cancelledFor: cancelled?.reason,
    });
  });
});
