import { createHash, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { productChanges } from '../../db/schema/catalog';
import { stockChanges } from '../../db/schema/inventory';
import { supportTokens } from '../../db/schema/support';
import { createLogger } from '../../logger';
import { refundWorkflowId } from '../../temporal/workflow-ids';
import { refundStatusQuery, retrySignal } from '../../workflows/messages';
import { main as supportTokenCli } from '../../scripts/support-token';
import { startTestApp } from '../helpers/app';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack, type Stack } from '../helpers/stack';

type Headers = Record<string, string>;
const bearer = (token: string): Headers => ({ Authorization: `Bearer ${token}` });

describe('support identities: per-person tokens, roles, and the actor on every support action', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  const breakGlass = () => bearer(stack.config.adminApiToken);
  /** Tokens of three people, one role each, created through the admin route. */
  const people = {} as Record<'support' | 'operations' | 'admin', { id: string; name: string; token: string }>;

  async function createToken(name: string, roles: string[], as: Headers = breakGlass()) {
    const res = await stack.http('POST', '/admin/support-tokens', { headers: as, body: { name, email: `${name}@shop.example`, roles } });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, name, token: res.body.token as string };
  }

  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
    const suffix = randomBytes(3).toString('hex');
    for (const role of ['support', 'operations', 'admin'] as const) people[role] = await createToken(`${role}-${suffix}`, [role]);
  });
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  async function paidOrder() {
    const sku = await createProduct(stack.dbs, { priceAmount: 900, onHand: 10 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 2 } });
    const res = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': 'buy' },
      body: { cartId: cart.body.id, email: `si-${Date.now()}@example.com`, paymentToken: 'tok_visa' },
    });
    expect(res.status).toBe(201);
    await stack.temporal.workflow.getHandle(`checkout-${cart.body.id}`).result();
    return { orderId: res.body.orderId as string, sku };
  }

  async function parkedOrder() {
    const sku = await createProduct(stack.dbs, { priceAmount: 800, onHand: 5 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } });
    gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['capture'] });
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'park' }, body: { cartId, email: 'parked@example.com', paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    const orderId = res.body.orderId as string;
    const deadline = Date.now() + 30_000;
    while ((await stack.http('GET', `/orders/${orderId}`)).body.status !== 'needs_attention') {
      if (Date.now() > deadline) throw new Error('the order never parked');
      await new Promise((r) => setTimeout(r, 100));
    }
    return { orderId, handle: stack.temporal.workflow.getHandle(`checkout-${cartId}`) };
  }

  describe('the role table', () => {
    // a sku no test creates (a route that lets a wrong role through would create it)
    const ghost = `NOPE-${randomBytes(5).toString('hex')}`;
    const supportRoutes: [string, string, unknown?][] = [
      ['POST', '/admin/orders/ord_x/retry'],
      ['POST', '/admin/orders/ord_x/cancel', { reason: 'x' }],
      ['POST', '/orders/ord_x/refunds', { reason: 'x' }],
      ['GET', '/orders?email=a@example.com'],
    ];
    const operationsRoutes: [string, string, unknown?][] = [
      ['PUT', `/admin/products/${ghost}`, { name: 'x', price: { amount: 1, currency: 'USD' } }],
      ['DELETE', `/admin/products/${ghost}`],
      ['PUT', `/admin/inventory/${ghost}`, { onHand: 1, reason: 'count' }],
      ['GET', `/admin/inventory/${ghost}/changes`],
    ];
    const adminRoutes: [string, string, unknown?][] = [
      ['GET', '/admin/support-tokens'],
      ['POST', '/admin/support-tokens', { name: 'x', roles: ['support'] }],
      ['DELETE', '/admin/support-tokens/spt_x'],
    ];
    const every = [...supportRoutes, ...operationsRoutes, ...adminRoutes];
    const call = ([method, path, body]: [string, string, unknown?], headers: Headers = {}) =>
      stack.http(method, path, { headers: { 'Idempotency-Key': 'role-table', ...headers }, body });

    it('no credential → 401 unauthorized on every support, operations and admin route', async () => {
      for (const route of every) {
        const res = await call(route);
        expect([route, res.status, res.body.error?.code, res.headers.get('www-authenticate')]).toEqual([route, 401, 'unauthorized', 'Bearer realm="orderly-support"']);
      }
    });

    it('an unknown, malformed or revoked token → 403 forbidden (API.md: a wrong credential), nothing done', async () => {
      const revoked = await createToken(`revoked-${randomBytes(3).toString('hex')}`, ['support', 'operations', 'admin']);
      expect((await stack.http('DELETE', `/admin/support-tokens/${revoked.id}`, { headers: bearer(people.admin.token) })).body.revokedAt).toEqual(expect.any(String));
      const wrong = [`osp_${randomBytes(32).toString('base64url')}`, 'osp_short', 'not-a-token', revoked.token];
      for (const token of wrong) {
        for (const route of every) {
          const res = await call(route, bearer(token));
          expect([token, route, res.status, res.body.error?.code]).toEqual([token, route, 403, 'forbidden']);
        }
      }
    });

    it('a support token on operations and admin routes → 403 forbidden, naming the role needed', async () => {
      for (const route of [...operationsRoutes, ...adminRoutes]) {
        const res = await call(route, bearer(people.support.token));
        expect([route, res.status, res.body.error?.code]).toEqual([route, 403, 'forbidden']);
        expect(res.body.error.details.requiredRole).toEqual(expect.arrayContaining([expect.stringMatching(/operations|admin/)]));
      }
    });

    it('an operations token on retry, cancel, refund and the order search → 403; an admin token only manages tokens', async () => {
      for (const route of [...supportRoutes, ...adminRoutes]) expect([route, (await call(route, bearer(people.operations.token))).status]).toEqual([route, 403]);
      for (const route of [...supportRoutes, ...operationsRoutes]) expect([route, (await call(route, bearer(people.admin.token))).status]).toEqual([route, 403]);
      // and with the role they get past the gate (to the route's own answer)
      expect((await call(supportRoutes[0] as [string, string], bearer(people.support.token))).status).toBe(404);
      expect((await call(operationsRoutes[2] as [string, string], bearer(people.operations.token))).status).toBe(404);
      expect((await call(adminRoutes[0] as [string, string], bearer(people.admin.token))).status).toBe(200);
    });

    it('ADMIN_API_TOKEN in a production-mode config carries only `admin`: it creates personal tokens, it does not act on orders, stock or the catalog', async () => {
      const adminApiToken = randomBytes(32).toString('hex');
      const app = await startTestApp({ ...stack, config: { ...stack.config, mode: 'production', adminApiToken }, logger: createLogger('silent') });
      try {
        const at = (method: string, path: string, body?: unknown) =>
          fetch(`${app.baseUrl}${path}`, {
            method,
            headers: { Authorization: `Bearer ${adminApiToken}`, 'content-type': 'application/json', 'Idempotency-Key': 'prod' },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
        for (const [method, path, body] of [...supportRoutes, ...operationsRoutes]) {
          const res = await at(method, path, body);
          expect([path, res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([path, 403, 'forbidden']);
        }
        const created = await at('POST', '/admin/support-tokens', { name: 'first-support-person', roles: ['support'] });
        expect(created.status).toBe(201);
        expect(((await created.json()) as { token: string }).token).toMatch(/^osp_/);
      } finally {
        await app.close();
      }
    });
  });

  describe('tokens', () => {
    it('are shown once: stored as a SHA-256 hash, listed without the secret, last use recorded', async () => {
      const person = await createToken(`listed-${randomBytes(3).toString('hex')}`, ['support']);
      expect(person.token).toMatch(/^osp_[A-Za-z0-9_-]{43}$/);
      const [row] = await stack.dbs.support.select().from(supportTokens).where(eq(supportTokens.id, person.id));
      expect(row?.tokenHash).toBe(createHash('sha256').update(person.token).digest('hex'));
      expect(JSON.stringify(row)).not.toContain(person.token);
      expect(row?.lastUsedAt).toBeNull();
      expect((await stack.http('GET', '/orders?email=nobody@example.com', { headers: bearer(person.token) })).status).toBe(200);
      const list = await stack.http('GET', '/admin/support-tokens', { headers: bearer(people.admin.token) });
      const listed = list.body.items.find((t: { id: string }) => t.id === person.id);
      expect(listed).toMatchObject({ name: person.name, roles: ['support'], tokenHint: person.token.slice(0, 8), revokedAt: null, lastUsedAt: expect.any(String) });
      expect(JSON.stringify(list.body)).not.toMatch(/osp_[A-Za-z0-9_-]{20}|tokenHash/);
    });

    it('the CLI creates one that works (the first admin), and revokes it', async () => {
      const out: string[] = [];
      await supportTokenCli(['create', '--name', `cli-${randomBytes(3).toString('hex')}`, '--roles', 'admin,support'], (l) => out.push(l));
      const token = out[0] as string;
      expect(token).toMatch(/^osp_/);
      expect((await stack.http('GET', '/admin/support-tokens', { headers: bearer(token) })).status).toBe(200);
      const [row] = await stack.dbs.support.select().from(supportTokens).where(eq(supportTokens.tokenHash, createHash('sha256').update(token).digest('hex')));
      await supportTokenCli(['revoke', row?.id as string], (l) => out.push(l));
      expect((await stack.http('GET', '/admin/support-tokens', { headers: bearer(token) })).status).toBe(403);
      await expect(supportTokenCli(['create', '--name', 'x', '--roles', 'root'], () => undefined)).rejects.toThrow(/roles/);
    });
  });

  describe('the actor of each support action', () => {
    it('a retry by a personal token: in the order history (to support) and in the workflow memo', async () => {
      const { orderId, handle } = await parkedOrder();
      gateway.setFaults(null);
      const retry = await stack.http('POST', `/admin/orders/${orderId}/retry`, { headers: bearer(people.support.token), body: { reason: 'gateway fixed' } });
      expect(retry.status).toBe(202);
      await handle.result();
      await recordHistory(handle, 'checkoutWorkflow', 'support-update-parked-then-retried');
      const actor = { id: people.support.id, name: people.support.name };
      const asSupport = (await stack.http('GET', `/orders/${orderId}`, { headers: bearer(people.support.token) })).body;
      expect(asSupport.status).toBe('paid');
      expect(asSupport.events.find((e: { type: string }) => e.type === 'support_retry')).toMatchObject({ type: 'support_retry', actor, reason: 'gateway fixed', at: expect.any(String) });
      // the customer reads the event, not who
      const asCustomer = (await stack.http('GET', `/orders/${orderId}`)).body;
      expect(asCustomer.events.find((e: { type: string }) => e.type === 'support_retry').actor).toBeUndefined();
      expect(JSON.stringify(asSupport)).not.toContain(people.support.token);
      const { memo } = await handle.describe();
      // who, what, when: never the free-text reason (the order event keeps it)
      expect(memo?.lastSupportAction).toEqual({ action: 'retry', actor, at: expect.any(String) });
      // the retry was taken: a second one is refused (the workflow is not waiting any more)
      const again = await stack.http('POST', `/admin/orders/${orderId}/retry`, { headers: bearer(people.support.token), body: { reason: 'again' } });
      expect([again.status, again.body.error?.code]).toEqual([409, 'order_not_parked']);
      expect(asSupport.events.filter((e: { type: string }) => e.type === 'support_retry')).toHaveLength(1);
    });

    it('a cancel by a personal token: actor and reason in the order history and the workflow memo', async () => {
      const { orderId, handle } = await parkedOrder();
      const cancel = await stack.http('POST', `/admin/orders/${orderId}/cancel`, { headers: bearer(people.support.token), body: { reason: 'customer asked' } });
      expect(cancel.status).toBe(202);
      await handle.result();
      gateway.setFaults(null);
      await recordHistory(handle, 'checkoutWorkflow', 'support-update-parked-then-cancelled');
      const actor = { id: people.support.id, name: people.support.name };
      const order = (await stack.http('GET', `/orders?email=parked@example.com`, { headers: bearer(people.support.token) })).body.items.find((o: { id: string }) => o.id === orderId);
      expect(order.status).toBe('cancelled');
      expect(order.events.find((e: { type: string }) => e.type === 'support_cancel')).toMatchObject({ actor, reason: 'customer asked' });
      // the support event reads before what the workflow then did (it is dated with the workflow's decision)
      const types = order.events.map((e: { type: string }) => e.type);
      expect(types.indexOf('support_cancel')).toBeLessThan(types.indexOf('order_cancelled'));
      expect((await handle.describe()).memo?.lastSupportAction).toEqual({ action: 'cancel', actor, at: expect.any(String) });
      // a cancel without a reason is refused
      expect((await stack.http('POST', `/admin/orders/${orderId}/cancel`, { headers: bearer(people.support.token) })).status).toBe(400);
    });

    it('a refund by a personal token: the actor on refund_requested and in the refund workflow memo', async () => {
      const { orderId } = await paidOrder();
      const res = await stack.http('POST', `/orders/${orderId}/refunds`, {
        headers: { ...bearer(people.support.token), 'Idempotency-Key': 'si-refund' },
        body: { amount: { amount: 100, currency: 'USD' }, reason: 'late delivery' },
      });
      expect(res.status).toBe(201);
      const actor = { id: people.support.id, name: people.support.name };
      const order = (await stack.http('GET', `/orders/${orderId}`, { headers: bearer(people.support.token) })).body;
      expect(order.events.find((e: { type: string }) => e.type === 'refund_requested')).toMatchObject({ actor, reason: `late delivery (refund ${res.body.refundId})` });
      const { memo } = await stack.temporal.workflow.getHandle(refundWorkflowId(res.body.refundId)).describe();
      // the memo: who, which refund, when; the reason is in the order's history only (free text stays out of the workflow)
      expect(memo?.lastSupportAction).toEqual({ action: 'refund', actor, refundId: res.body.refundId, at: expect.any(String) });
    });

    it('a parked refund retried by a signal sent by hand: the memo moves from the refund request to the retry and who the input names', async () => {
      const { orderId } = await paidOrder();
      gateway.setFaults({ mode: 'reject', count: 1_000, operations: ['refund'] });
      const answer = stack.http('POST', `/orders/${orderId}/refunds`, {
        headers: { ...bearer(people.support.token), 'Idempotency-Key': 'si-parked-refund' },
        body: { amount: { amount: 200, currency: 'USD' }, reason: 'damaged' },
      });
      const refundId = await eventually(async () => ((await stack.http('GET', `/orders/${orderId}/refunds`)).body.items as { refundId: string }[])[0]?.refundId, 10_000, 'refund opened');
      const handle = stack.temporal.workflow.getHandle(refundWorkflowId(refundId));
      await eventually(async () => ((await handle.query(refundStatusQuery)).step === 'needs_attention' ? true : undefined), 30_000, 'refund parked');
      expect((await handle.describe()).memo?.lastSupportAction).toMatchObject({ action: 'refund', actor: { id: people.support.id }, refundId });
      gateway.setFaults(null);
      // the Web UI's "Send a Signal" with an input naming the person
      await handle.signal(retrySignal, { actor: { id: 'carol@shop', name: 'Carol' }, reason: 'gateway back' });
      expect(await handle.result()).toMatchObject({ status: 'succeeded' });
      await recordHistory(handle, 'refundWorkflow', 'support-actor-memo-without-reason-parked-then-retried');
      expect((await handle.describe()).memo?.lastSupportAction).toEqual({ action: 'retry', actor: { id: 'carol@shop', name: 'Carol' }, at: expect.any(String) });
      expect((await answer).status).toBeLessThan(300);
    });

    it('a stock change is audited: who, when, why, before and after; a refused change records nothing', async () => {
      const sku = await createProduct(stack.dbs, { onHand: 7 });
      const ops = bearer(people.operations.token);
      const set = await stack.http('PUT', `/admin/inventory/${sku}`, { headers: ops, body: { onHand: 12, reason: 'recount after delivery' } });
      expect(set.status).toBe(200);
      // a person must say why; ADMIN_API_TOKEN's old clients (API.md's body) need not
      const noReason = await stack.http('PUT', `/admin/inventory/${sku}`, { headers: ops, body: { onHand: 3 } });
      expect([noReason.status, noReason.body.error.details]).toEqual([400, [expect.objectContaining({ field: 'reason' })]]);
      expect((await stack.http('PUT', `/admin/inventory/${sku}`, { headers: breakGlass(), body: { onHand: 11 } })).status).toBe(200);
      const changes = await stack.http('GET', `/admin/inventory/${sku}/changes`, { headers: ops });
      expect(changes.body.items).toEqual([
        expect.objectContaining({ onHandBefore: 12, onHandAfter: 11, actor: { id: 'admin-token', name: 'admin-token' }, reason: 'no reason given (ADMIN_API_TOKEN)' }),
        { sku, onHandBefore: 7, onHandAfter: 12, reserved: 0, actor: { id: people.operations.id, name: people.operations.name }, reason: 'recount after delivery', at: expect.any(String) },
      ]);
      expect(await stack.dbs.inventory.select().from(stockChanges).where(eq(stockChanges.sku, sku))).toHaveLength(2);
    });

    it('a product change is audited with its actor and reason', async () => {
      const sku = `SI-${randomBytes(4).toString('hex')}`;
      const ops = bearer(people.operations.token);
      const put = await stack.http('PUT', `/admin/products/${sku}`, { headers: ops, body: { name: 'Audited', price: { amount: 500, currency: 'USD' }, reason: 'new line' } });
      expect(put.status).toBe(200);
      expect((await stack.http('DELETE', `/admin/products/${sku}`, { headers: ops, body: { reason: 'discontinued' } })).status).toBe(200);
      const rows = await stack.dbs.catalog.select().from(productChanges).where(eq(productChanges.sku, sku)).orderBy(productChanges.id);
      expect(rows.map((r) => [r.action, r.actorId, r.actorName, r.reason])).toEqual([
        ['upsert', people.operations.id, people.operations.name, 'new line'],
        ['deactivate', people.operations.id, people.operations.name, 'discontinued'],
      ]);
    });
  });
});
