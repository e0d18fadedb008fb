import { getProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

export interface StockLevel {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
}

/** PUT /admin/inventory/:sku: the counted stock of a product, never below what open checkouts reserve. */
export async function setStock({ dbs }: Pick<UseCaseDeps, 'dbs'>, sku: string, onHand: number): Promise<{ kind: 'set'; level: StockLevel } | Rejected> {
  if (!(await getProduct(dbs.catalog, sku))) return rejected('not_found', 'no such product');
  const result = await setOnHand(dbs.inventory, sku, onHand);
  if (result.status === 'below_reserved') {
    return rejected('inventory_conflict', 'on hand cannot go below what is reserved by open checkouts', {
      sku,
      requestedOnHand: onHand,
      reserved: result.level.reserved,
      onHand: result.level.onHand,
    });
  }
  const { onHand: counted, reserved, available } = result.level;
  return { kind: 'set', level: { sku, onHand: counted, reserved, available } };
}
