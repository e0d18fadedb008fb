import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review: invariant 7 (never store card numbers). A support reason is free text (1–500
 * characters, api/schemas/refunds.ts reasonSchema); the feature now copies it into the refund
 * workflow's input (history) and its memo `lastSupportAction` (temporal/refund.ts), which the
 * Web UI shows to anyone with access, in plain text (there is no payload codec). A reason with a
 * card number in it ("refund the charge on 4242 4242 4242 4242") is stored there verbatim.
 */
describe('review: a card number typed into a support reason', () => {
  let stack: Stack;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is refused at the edge, or never reaches workflow history or memo', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1200, onHand: 5 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 1 } });
    const placed = await stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'pan' }, body: { cartId: cart.body.id, email: 'pan@example.com', paymentToken: 'tok_visa' } });
    expect(placed.status).toBe(201);
    await stack.temporal.workflow.getHandle(`checkout-${cart.body.id}`).result();

    const res = await stack.http('POST', `/orders/${placed.body.orderId}/refunds`, {
      headers: { 'Idempotency-Key': 'pan-refund', ...admin },
      body: { reason: 'customer says card 4242 4242 4242 4242 was charged twice' },
    });
    if (res.status === 400) return; // refused at the edge: fine
    expect([201, 202]).toContain(res.status);
    const handle = stack.temporal.workflow.getHandle(`refund-${res.body.refundId}`);
    await handle.result().catch(() => undefined);
    const digits = (s: string) => s.replace(/[^0-9]/g, '');
    const memo = JSON.stringify((await handle.describe()).memo ?? {});
    // every payload's data as text (walk the proto objects: their toJSON would base64 the bytes)
    const texts: string[] = [];
    const walk = (v: unknown, depth = 0): void => {
      if (depth > 40 || v === null || typeof v !== 'object') return;
      if (v instanceof Uint8Array) return void texts.push(Buffer.from(v).toString('utf8'));
      for (const item of Object.values(v as Record<string, unknown>)) walk(item, depth + 1);
    };
    walk(await handle.fetchHistory());
    const history = texts.join('\n');
    expect({ memoHasPan: digits(memo).includes('4242424242424242'), historyHasPan: history.includes('4242 4242 4242 4242') }).toEqual({
      memoHasPan: false,
      historyHasPan: false,
    });
  });
});
