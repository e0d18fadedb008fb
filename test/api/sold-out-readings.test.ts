import { eq } from 'drizzle-orm';
import { stock } from '../../db/schema/inventory';
import { checkouts } from '../../db/schema/order';
import { SoldOutReadings, soldOutReadings } from '../../usecases/sold-out';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/** A fetch of available stock that counts its calls and answers what `levels` says when it is called. */
function countingFetch(levels: Map<string, number>) {
  const calls: string[][] = [];
  return {
    calls,
    fetch: async (skus: string[]) => {
      calls.push(skus);
      return new Map(skus.filter((s) => levels.has(s)).map((s) => [s, levels.get(s) as number]));
    },
  };
}

/**
 * SOLD_OUT_CACHE_MS (usecases/sold-out.ts): a fresh reading that is short of what a cart asks
 * refuses it without another stock read; a reading never says yes; after the bound the SKU is
 * read again, so a unit that came back is sold again at most SOLD_OUT_CACHE_MS later.
 */
describe('sold-out readings: the bound, with a clock the test moves', () => {
  it('a short reading refuses within maxAgeMs without a read; at maxAgeMs it is read again', async () => {
    let now = 1_000;
    const readings = new SoldOutReadings(500, () => now);
    const levels = new Map([['A', 0]]);
    const { calls, fetch } = countingFetch(levels);
    expect(readings.refusing('A', 1)).toBeUndefined();
    expect(await readings.read(['A'], fetch)).toEqual(new Map([['A', 0]]));
    now += 499;
    expect(readings.refusing('A', 1)).toBe(0);
    expect(calls).toHaveLength(1);
    // restocked: the reading is too old now, and the next read sees the stock
    levels.set('A', 3);
    now += 1;
    expect(readings.refusing('A', 1)).toBeUndefined();
    expect(await readings.read(['A'], fetch)).toEqual(new Map([['A', 3]]));
    expect(readings.refusing('A', 1)).toBeUndefined();
    expect(calls).toHaveLength(2);
  });

  it('a reading with enough stock is never used: asking more than it shows is refused, asking within it reads again', async () => {
    const now = 0;
    const readings = new SoldOutReadings(10_000, () => now);
    const { fetch } = countingFetch(new Map([['B', 2]]));
    await readings.read(['B'], fetch);
    expect(readings.refusing('B', 2)).toBeUndefined();
    expect(readings.refusing('B', 3)).toBe(2);
    // a SKU without a stock row reads as none
    await readings.read(['NONE'], fetch);
    expect(readings.refusing('NONE', 1)).toBe(0);
  });

  it('concurrent reads of the same SKUs share one read; a read sent earlier that answers later never overwrites a newer one', async () => {
    let now = 0;
    const readings = new SoldOutReadings(500, () => now);
    const { calls, fetch } = countingFetch(new Map([['C', 0]]));
    const shared = await Promise.all(Array.from({ length: 50 }, () => readings.read(['C'], fetch)));
    expect(calls).toHaveLength(1);
    for (const r of shared) expect(r?.get('C')).toBe(0);

    // a slow read sent at t=1000 (showing 0) answers after a quick one sent at t=1600 (showing 5)
    now = 1_000;
    let releaseSlow: (v: Map<string, number>) => void = () => undefined;
    const slow = readings.read(['C'], () => new Promise((r) => (releaseSlow = r)));
    now = 1_600;
    await readings.read(['C'], async () => new Map([['C', 5]]));
    releaseSlow(new Map([['C', 0]]));
    await slow;
    expect(readings.refusing('C', 1)).toBeUndefined();
  });

  it('a failed read refuses nothing and is not remembered', async () => {
    const readings = new SoldOutReadings(500, () => 0);
    expect(await readings.read(['D'], () => Promise.reject(new Error('down')))).toBeUndefined();
    expect(readings.refusing('D', 1)).toBeUndefined();
  });
});

describe('sold-out readings through POST /checkouts (SOLD_OUT_CACHE_MS=3000; real API, PostgreSQL, Redis, Temporal)', () => {
  const BOUND_MS = 3000;
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000', SOLD_OUT_CACHE_MS: String(BOUND_MS) } });
  });
  afterAll(async () => {
    await stack?.close();
  });
  const admin = () => ({ Authorization: `Bearer ${stack.config.adminApiToken}` });
  async function cartWith(sku: string): Promise<string> {
    const cart = await stack.http('POST', '/carts', { body: {} });
    expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    return cart.body.id as string;
  }
  const checkout = (cartId: string, key: string) =>
    stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': key }, body: { cartId, email: 'buyer@example.com', paymentToken: 'tok_visa' } });

  it('a wave of losers is refused from one reading; after a restock the SKU sells again once the bound has passed, and every later buyer is served', async () => {
    const sku = await createProduct(stack.dbs, { onHand: 0 });
    const readings = soldOutReadings(stack.dbs, BOUND_MS) as SoldOutReadings;
    const carts = await Promise.all(Array.from({ length: 10 }, () => cartWith(sku)));
    const readsBefore = readings.reads;
    const first = await checkout(carts[0] as string, 'wave-0');
    expect(first.status).toBe(409);
    const wave = await Promise.all(carts.slice(1).map((c, i) => checkout(c, `wave-${i + 1}`)));
    for (const r of wave) expect(r.body.error).toMatchObject({ code: 'out_of_stock', details: { items: [{ sku, requested: 1, available: 0 }] } });
    // one stock read for the first loser; the wave was refused from its reading (the test runs well within the bound)
    expect(readings.reads - readsBefore).toBe(1);
    // each refusal recorded under its key, replayed by it
    const [row] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, carts[1] as string));
    expect(row).toMatchObject({ status: 'failed', runId: null, failure: { code: 'out_of_stock' } });
    expect((await checkout(carts[1] as string, 'wave-1')).body).toEqual(wave[0]?.body);

    // restock: the bound is the longest a buyer can still be refused
    const restockedAt = Date.now();
    expect((await stack.http('PUT', `/admin/inventory/${sku}`, { headers: admin(), body: { onHand: 3 } })).status).toBe(200);
    const soon = await checkout(carts[2] as string, 'after-restock-soon');
    // within the bound the old reading may still refuse (it did here unless the wave took longer than the bound)
    if (soon.status === 409) expect(Date.now() - restockedAt).toBeLessThan(BOUND_MS + 100);
    else await stack.temporal.workflow.getHandle(checkoutWorkflowId(carts[2] as string)).result();
    await new Promise((r) => setTimeout(r, Math.max(0, restockedAt + BOUND_MS + 50 - Date.now())));
    const buyers = soon.status === 201 ? [3, 4] : [3, 4, 5];
    for (const i of buyers) {
      const res = await checkout(carts[i] as string, `after-restock-${i}`);
      expect(res.status).toBe(201);
      await stack.temporal.workflow.getHandle(checkoutWorkflowId(carts[i] as string)).result();
    }
    // sold out again: refused, exactly the stock sold
    const after = await checkout(carts[6] as string, 'after-sold-out');
    expect(after.status).toBe(409);
    const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
    expect(level).toMatchObject({ onHand: 0, reserved: 0, sold: 3 });
  });
});
