import { inArray } from 'drizzle-orm';
import { products } from '../../db/schema/catalog';
import { stock } from '../../db/schema/inventory';
import { seedCatalog } from '../../db/seed';
import { createTestDeps, startTestApp, type TestDeps } from '../helpers/app';

describe('the seed catalog', () => {
  let deps: TestDeps;
  beforeAll(async () => {
    deps = await createTestDeps();
  });
  afterAll(async () => {
    await deps?.close();
  });

  it('loads a few dozen USD products across six categories, with stock, and loading it twice changes nothing', async () => {
    const first = await seedCatalog(deps.config);
    const skus = first.map((p) => p.sku);
    expect(skus.length).toBeGreaterThanOrEqual(30);
    expect(new Set(skus).size).toBe(skus.length);

    const rows = await deps.dbs.catalog.select().from(products).where(inArray(products.sku, skus));
    expect(rows).toHaveLength(skus.length);
    expect(new Set(rows.map((r) => r.category)).size).toBe(6);
    expect(rows.every((r) => r.active && r.currency === 'USD' && r.priceAmount > 0 && Number.isInteger(r.priceAmount))).toBe(true);
    const levels = await deps.dbs.inventory.select().from(stock).where(inArray(stock.sku, skus));
    expect(levels).toHaveLength(skus.length);
    expect(levels.every((l) => l.onHand > 0)).toBe(true);

    const second = await seedCatalog(deps.config);
    expect(second.map((p) => p.sku)).toEqual(skus);
    const again = await deps.dbs.catalog.select().from(products).where(inArray(products.sku, skus));
    expect(again.map((r) => [r.sku, r.priceAmount, r.version]).sort()).toEqual(rows.map((r) => [r.sku, r.priceAmount, r.version]).sort());
  });

  it('is browsable through the API', async () => {
    const seeded = await seedCatalog(deps.config);
    const app = await startTestApp(deps);
    try {
      const res = await fetch(`${app.baseUrl}/products?category=coffee&sort=price_asc&limit=100`);
      const body = (await res.json()) as { items: { sku: string; available: number }[] };
      const coffee = seeded.filter((p) => p.category === 'coffee').map((p) => p.sku);
      expect(body.items.map((p) => p.sku)).toEqual(expect.arrayContaining(coffee));
      expect(coffee).toHaveLength(6);
      expect(body.items.every((p) => p.available > 0)).toBe(true);
    } finally {
      await app.close();
    }
  });
});
