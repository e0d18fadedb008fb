import type { DbOrTx } from '../client';
import type { PricedLine, SkuQuantity } from '../../domain/cart';
import type { Product } from '../schema/catalog';
import { getProducts } from './catalog';

export type { PricedLine } from '../../domain/cart';
/** A line to price: a SKU and a quantity. */
export type LineRef = SkuQuantity;

export interface PricedLines {
  lines: PricedLine[];
  total: { amount: number; currency: string };
  /** Skus no longer sold (unknown, inactive, or priced in another currency). */
  unavailable: string[];
}

/**
 * Prices lines from the catalog as it is now (carts store no prices). Integer minor
 * units throughout; a line of a product no longer sold is left out and reported.
 * `known`: products the caller read from the catalog just before (a cart write reads the
 * added product first): not read again, so a one-line cart is priced without a round trip.
 */
export async function priceLines(db: DbOrTx, lines: LineRef[], currency: string, known?: ReadonlyMap<string, Product>): Promise<PricedLines> {
  const skus = [...new Set(lines.map((l) => l.sku))];
  const catalog = await getProducts(db, known ? skus.filter((sku) => !known.has(sku)) : skus);
  for (const [sku, product] of known ?? []) catalog.set(sku, product);
  const priced: PricedLine[] = [];
  const unavailable: string[] = [];
  for (const line of lines) {
    const p = catalog.get(line.sku);
    if (!p || !p.active || p.currency !== currency) {
      unavailable.push(line.sku);
      continue;
    }
    priced.push({
      sku: p.sku,
      name: p.name,
      quantity: line.quantity,
      unitPrice: { amount: p.priceAmount, currency },
      lineTotal: { amount: p.priceAmount * line.quantity, currency },
    });
  }
  const amount = priced.reduce((sum, l) => sum + l.lineTotal.amount, 0);
  return { lines: priced, total: { amount, currency }, unavailable };
}
