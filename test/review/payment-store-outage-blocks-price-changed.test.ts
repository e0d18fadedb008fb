import { Client as PgClient } from 'pg';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review r26a, against d4b706e/bed528c (patch checkout-void-unseen-authorization).
 *
 * Every local checkout that fails before the authorize step now pushes a voidPayment
 * (onlyIfAttempted) compensation, which reads payment.payments and writes the attempt mark in
 * the payment store — even a checkout that never came near payment (price_changed, a cancel
 * before the hold). `undo` retries without limit and the storefront's answer (`finish`) and the
 * cart's unlock come only after saga.compensate(): while the payment context's database is
 * unavailable (simulated by a lock that makes its queries hang, as an unreachable server
 * does), a price_changed checkout — answered 409 at once before this change — is left
 * pending (202), and the cart stays locked, so the customer cannot fix the cart the 409 is
 * about. An outage of one bounded context now stalls checkouts that never touched it.
 */
describe('a checkout that fails before payment, while the payment store is down', () => {
  let stack: Stack;
  let locker: PgClient | undefined;

  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '8000' } });
  }, 120_000);
  afterAll(async () => {
    await locker?.query('rollback').catch(() => undefined);
    await locker?.end().catch(() => undefined);
    await stack?.close();
  });

  async function cartWith(sku: string): Promise<string> {
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    return cartId;
  }
  const stale = (cartId: string, key: string) =>
    stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': key },
      body: { cartId, email: 'stale-price@example.com', paymentToken: 'tok_visa', expectedTotal: { amount: 400, currency: 'USD' } },
    });

  it('still answers 409 price_changed and unlocks the cart', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1000, onHand: 10 });
    // control: the payment store up
    const before = await stale(await cartWith(sku), 'stale-price-control');
    expect(before.status).toBe(409);
    expect(before.body.error?.code ?? before.body.code).toBe('price_changed');

    // the payment context's database stops answering
    locker = new PgClient({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table payment.payments in access exclusive mode');

    const cartId = await cartWith(sku);
    const res = await stale(cartId, 'stale-price-outage');
    const relock = await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 2 } });
    console.log(JSON.stringify({ control: before.status, duringOutage: res.status, body: res.body, cartChange: relock.status }));
    expect(res.status).toBe(409);
    expect(relock.status).toBe(200);
  }, 120_000);
});
