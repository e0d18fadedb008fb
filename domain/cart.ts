import type { Money } from './money';

/** A quantity of one SKU: a cart line, a stock line, an order line before pricing. */
export interface SkuQuantity {
  sku: string;
  quantity: number;
}

/** A cart line priced from the catalog as it is now (carts store no prices). */
export interface PricedLine extends SkuQuantity {
  name: string;
  unitPrice: Money;
  lineTotal: Money;
}

export interface PricedCart {
  cartId: string;
  currency: string;
  lines: PricedLine[];
  total: Money;
}

type NumericKeys<L> = { [K in keyof L]: L[K] extends number ? K : never }[keyof L];

/**
 * One line per SKU, in the order each SKU first appears: quantities summed, and the other
 * numeric fields named in `alsoSum` (e.g. an order line's `lineTotal`). The rest of a line
 * comes from its first occurrence.
 */
export function sumLinesBySku<L extends SkuQuantity>(lines: readonly L[], alsoSum: readonly NumericKeys<L>[] = []): L[] {
  const bySku = new Map<string, L>();
  for (const line of lines) {
    const seen = bySku.get(line.sku);
    if (!seen) {
      bySku.set(line.sku, { ...line });
      continue;
    }
    const merged: L = { ...seen, quantity: seen.quantity + line.quantity };
    for (const key of alsoSum) (merged[key] as number) = (seen[key] as number) + (line[key] as number);
    bySku.set(line.sku, merged);
  }
  return [...bySku.values()];
}

/** The stock a set of lines needs: `{ sku, quantity }` per SKU, nothing else. */
export function stockLines(lines: readonly SkuQuantity[]): SkuQuantity[] {
  return sumLinesBySku(lines.map(({ sku, quantity }) => ({ sku, quantity })));
}
