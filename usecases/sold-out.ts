import type { Databases } from '../db/client';
import type { StoredFailure } from '../db/schema/order';
import type { Shortage } from '../db/stores/holds';
import { stockLevels } from '../db/stores/inventory';
import { stockLines, type SkuQuantity } from '../domain/cart';
import type { Logger } from '../logger';

/** The message the workflow's hold answers when it is refused (with "nothing was charged" added, as withMoney does). */
export const OUT_OF_STOCK_MESSAGE = 'not enough stock for some items; nothing was charged';

/**
 * The sold-out pre-check of POST /checkouts: one indexed read of `on_hand - reserved` for the
 * cart's SKUs (lines of one SKU summed, as the hold sums them). It returns the refusal the
 * workflow's hold would give — `out_of_stock` with `{ items: [{ sku, requested, available }] }`
 * for the short SKUs only — when the read shows less than the cart asks for, and undefined
 * otherwise. It never says yes for the hold: when stock remains, the hold's conditional UPDATE
 * is the only judge. A read that fails refuses nothing (the workflow decides as before).
 */
export async function soldOutRefusal(dbs: Pick<Databases, 'inventory'>, logger: Logger, lines: readonly SkuQuantity[]): Promise<StoredFailure | undefined> {
  const wanted = stockLines(lines);
  if (wanted.length === 0) return undefined;
  const levels = await stockLevels(
    dbs.inventory,
    wanted.map((l) => l.sku),
  ).catch((err: unknown) => {
    logger.warn({ err: String(err) }, 'sold-out pre-check could not read stock; the checkout goes on');
    return undefined;
  });
  if (!levels) return undefined;
  const items: Shortage[] = [];
  for (const { sku, quantity } of wanted) {
    // a SKU without a stock row has none: the hold's UPDATE would match no row either
    const available = Math.max(0, levels.get(sku)?.available ?? 0);
    if (available < quantity) items.push({ sku, requested: quantity, available });
  }
  // in SKU order, as the hold reports them
  items.sort((a, b) => (a.sku < b.sku ? -1 : 1));
  return items.length > 0 ? { code: 'out_of_stock', message: OUT_OF_STOCK_MESSAGE, details: { items } } : undefined;
}
