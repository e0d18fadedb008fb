import { productChangesOf } from '../../db/stores/catalog';
import { startStack, type Stack } from '../helpers/stack';

/**
 * Review: the stock and catalog audits must record changes that happened, as they happened.
 */
describe('review: stock and product audits', () => {
  let stack: Stack;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  let n = 0;
  const newSku = () => `rev-${process.pid}-${Date.now().toString(36)}-${n++}`;
  const product = { name: 'Audit probe', description: 'x', price: { amount: 500, currency: 'USD' } };

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('two concurrent first counts of a sku: the second audit row says what it changed from', async () => {
    // a product created through the API has no stock row until its first count (db/stores/inventory.ts setOnHand inserts it)
    const broken: unknown[] = [];
    for (let i = 0; i < 8; i++) {
      const sku = newSku();
      expect((await stack.http('PUT', `/admin/products/${sku}`, { headers: admin, body: product })).status).toBe(200);
      const [a, b] = await Promise.all([
        stack.http('PUT', `/admin/inventory/${sku}`, { headers: admin, body: { onHand: 10, reason: 'count A' } }),
        stack.http('PUT', `/admin/inventory/${sku}`, { headers: admin, body: { onHand: 20, reason: 'count B' } }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const items = (await stack.http('GET', `/admin/inventory/${sku}/changes`, { headers: admin })).body.items as { onHandBefore: number | null; onHandAfter: number }[];
      const [newest, oldest] = items; // newest first
      // the audit is a chain: each change starts from what the previous one left
      if (newest?.onHandBefore !== oldest?.onHandAfter) broken.push({ sku, items });
    }
    expect(broken).toEqual([]);
  });

  it('a PUT that changes nothing is not audited as a change (same version, no new row)', async () => {
    const sku = newSku();
    await stack.http('PUT', `/admin/products/${sku}`, { headers: admin, body: { ...product, reason: 'new product' } });
    const again = await stack.http('PUT', `/admin/products/${sku}`, { headers: admin, body: { ...product, reason: 'price raised' } });
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(1); // nothing changed: the product kept its version
    const audit = await productChangesOf(stack.dbs.catalog, sku);
    expect(audit.map((r) => `${r.action} v${r.version}: ${r.reason}`)).toEqual(['upsert v1: new product']);
  });

  it('deactivating an inactive product is not audited as a second deactivation', async () => {
    const sku = newSku();
    await stack.http('PUT', `/admin/products/${sku}`, { headers: admin, body: product });
    await stack.http('DELETE', `/admin/products/${sku}`, { headers: admin, body: { reason: 'discontinued (Alice)' } });
    const again = await stack.http('DELETE', `/admin/products/${sku}`, { headers: admin, body: { reason: 'recall (Bob)' } });
    expect(again.status).toBe(200);
    const audit = await productChangesOf(stack.dbs.catalog, sku);
    expect(audit.filter((r) => r.action === 'deactivate').map((r) => r.reason)).toEqual(['discontinued (Alice)']);
  });
});
