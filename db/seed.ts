import { loadConfig, type Config } from '../config';
import { createDatabases } from './client';
import { upsertProduct } from './stores/catalog';
import { createStockIfMissing } from './stores/inventory';

const CATEGORIES: Record<string, [string, string, number][]> = {
  coffee: [
    ['Ethiopia Yirgacheffe beans 250 g', 'Floral, bright, lemon and bergamot notes.', 1450],
    ['Colombia Huila beans 250 g', 'Caramel sweetness with red apple acidity.', 1290],
    ['Espresso house blend 1 kg', 'Chocolate and hazelnut, made for milk drinks.', 3400],
    ['Decaf Swiss water 250 g', 'Chemical-free decaf with cocoa notes.', 1390],
    ['Kenya AA beans 250 g', 'Blackcurrant and grapefruit, juicy body.', 1690],
    ['Cold brew coarse grind 500 g', 'Low-acid blend ground for cold brew.', 1890],
  ],
  brewing: [
    ['Pour-over dripper', 'Ceramic cone dripper for one or two cups.', 2500],
    ['Gooseneck kettle 1 L', 'Stovetop kettle with a precise pour.', 4500],
    ['French press 800 ml', 'Borosilicate glass, stainless steel plunger.', 3200],
    ['Paper filters (100)', 'Unbleached cone filters, size 02.', 650],
    ['Burr grinder', 'Hand grinder with 40 settings.', 7900],
    ['Digital scale', 'Brewing scale with timer, 0.1 g.', 2900],
  ],
  tea: [
    ['Sencha green tea 100 g', 'Steamed Japanese green tea, grassy and sweet.', 1100],
    ['Assam breakfast tea 200 g', 'Malty black tea for milk.', 900],
    ['Chamomile flowers 50 g', 'Whole flowers, caffeine free.', 750],
    ['Oolong Tieguanyin 100 g', 'Rolled oolong with orchid aroma.', 1850],
    ['Earl Grey 100 g', 'Black tea with bergamot oil.', 850],
    ['Matcha ceremonial 30 g', 'Stone-ground shade-grown tea.', 2400],
  ],
  mugs: [
    ['Stoneware mug 350 ml', 'Hand-glazed, dishwasher safe.', 1800],
    ['Double-wall glass 250 ml', 'Keeps drinks hot, hands cool.', 1500],
    ['Travel tumbler 450 ml', 'Insulated stainless steel with lid.', 2600],
    ['Espresso cups (2)', 'Porcelain demitasse cups with saucers.', 1900],
    ['Teapot 1 L', 'Cast iron teapot with infuser.', 5400],
    ['Latte bowl', 'Wide bowl for cafe au lait.', 1400],
  ],
  snacks: [
    ['Dark chocolate 70 % bar', 'Single-origin cocoa from Peru.', 450],
    ['Almond biscotti (12)', 'Twice-baked Italian cookies.', 690],
    ['Shortbread tin', 'Butter shortbread, 400 g.', 1250],
    ['Stroopwafels (8)', 'Caramel syrup waffles from Gouda.', 590],
    ['Candied ginger 200 g', 'Crystallised ginger pieces.', 720],
    ['Salted caramels 150 g', 'Soft caramels with sea salt.', 850],
  ],
  gifts: [
    ['Coffee lover gift box', 'Beans, dripper and filters in a box.', 4900],
    ['Tea sampler', 'Six teas in tins.', 3600],
    ['Gift card 25', 'A gift card worth 25 USD.', 2500],
    ['Barista apron', 'Waxed canvas with leather straps.', 3900],
    ['Brewing guide book', 'Recipes for every brewer.', 2200],
    ['Tasting journal', 'Notebook for cupping notes.', 1300],
  ],
};

export interface SeededProduct {
  sku: string;
  name: string;
  category: string;
}

/** The demo catalog: six categories of six USD products, skus like COF-001. */
export function seedProducts(): (SeededProduct & { description: string; priceAmount: number; onHand: number })[] {
  return Object.entries(CATEGORIES).flatMap(([category, items]) =>
    items.map(([name, description, priceAmount], i) => ({
      sku: `${category.slice(0, 3).toUpperCase()}-${String(i + 1).padStart(3, '0')}`,
      name,
      description,
      category,
      priceAmount,
      onHand: 20 + ((i * 37) % 80),
    })),
  );
}

/**
 * Loads the demo catalog; idempotent. Products are upserted (a changed seed file updates
 * them; an unchanged one writes nothing). Stock is only created where a sku has none: it is
 * live state (sales, reservations), so a restart of `npm run dev` must not reset it.
 */
export async function seedCatalog(config: Pick<Config, 'databaseUrls' | 'databasePoolSize'>): Promise<SeededProduct[]> {
  const dbs = createDatabases(config);
  try {
    const seeded: SeededProduct[] = [];
    for (const p of seedProducts()) {
      await upsertProduct(dbs.catalog, { sku: p.sku, name: p.name, description: p.description, category: p.category, priceAmount: p.priceAmount, currency: 'USD', attributes: { category: p.category } });
      await createStockIfMissing(dbs.inventory, p.sku, p.onHand);
      seeded.push({ sku: p.sku, name: p.name, category: p.category });
    }
    return seeded;
  } finally {
    await dbs.close();
  }
}

if (require.main === module) {
  seedCatalog(loadConfig()).then(
    (products) => process.stdout.write(`seeded ${products.length} products\n`),
    (err: unknown) => {
      process.stderr.write(`seed failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
