import type { Databases } from '../client';
import { toSearchDocument } from '../search-engine/document';
import { getProducts } from './catalog';
import { stockLevels } from './inventory';

/** Builds index documents for skus from the catalog and inventory as they are now (two queries). */
export async function currentDocuments(dbs: Pick<Databases, 'catalog' | 'inventory'>, skus: string[]) {
  const [products, levels] = await Promise.all([getProducts(dbs.catalog, skus), stockLevels(dbs.inventory, skus)]);
  return [...products.values()].map((p) => toSearchDocument(p, levels.get(p.sku)));
}
