import { and, eq, like } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { stock } from '../../db/schema/inventory';
import { localGatewayOperations as ops } from '../../db/schema/payment';
import { checkoutStatusQuery } from '../../workflows/messages';
import { eventually } from '../helpers/eventually';
import { mailTo } from '../helpers/mail';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * An authorization is capturable for a limited time (Stripe: 7 days). A capture parked for
 * support past that time can never succeed: the checkout is cancelled before the
 * authorization lapses — order cancelled, authorization released, customer told once.
 */
describe('a capture parked past the authorization’s validity (real Temporal, Postgres, SMTP)', () => {
  let stack: Stack;
  let gateway: LocalGateway;
  beforeAll(async () => {
    // validity 1 h + 6 s: the workflow cancels 1 h before it ends, i.e. ~6 s after authorizing
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '15000', AUTHORIZATION_VALIDITY_HOURS: String(1 + 6 / 3600) } });
    gateway = stack.activityDeps?.gateway as LocalGateway;
  });
  afterAll(async () => {
    gateway?.setFaults(null);
    await stack?.close();
  });

  it('parks on a refused capture, then cancels when the authorization would expire: voided, order cancelled, one email', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1200, onHand: 5 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 2 } });
    gateway.setFaults({ count: 1_000, mode: 'reject', operations: ['capture'] });
    const email = `expiry-${Date.now()}@example.com`;
    const res = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'expiry' }, body: { cartId: cart.body.id, email, paymentToken: 'tok_visa' } });
    expect(res.status).toBe(201);
    const handle = stack.temporal.workflow.getHandle(`checkout-${cart.body.id}`);
    await eventually(async () => ((await handle.query(checkoutStatusQuery)).step === 'needs_attention' ? true : undefined), 20_000, 'parked');
    const outcome = await handle.result();
    gateway.setFaults(null);
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'checkout_cancelled', message: expect.stringContaining('authorization expired') } });
    const captures = await stack.dbs.payment.select().from(ops).where(and(eq(ops.operation, 'capture'), like(ops.paymentRef, `%/${res.body.checkoutId}/%`)));
    expect(captures).toHaveLength(0);
    const voids = await stack.dbs.payment.select().from(ops).where(and(eq(ops.operation, 'void'), like(ops.paymentRef, `%/${res.body.checkoutId}/%`)));
    expect(voids).toHaveLength(1);
    expect((await stack.http('GET', `/orders/${res.body.orderId}`)).body.status).toBe('cancelled');
    expect((await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku)))[0]).toMatchObject({ onHand: 5, reserved: 0, sold: 0 });
    const mine = await eventually(async () => ((await mailTo(email)).length > 0 ? mailTo(email) : undefined), 20_000, 'the notice');
    expect(mine).toHaveLength(1);
    expect(mine[0]?.text).toContain('authorization expired');
  }, 90_000);
});
