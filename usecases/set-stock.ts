import { getProduct } from '../db/stores/catalog';
import { setOnHandAudited, stockChangesOf } from '../db/stores/inventory';
import type { SupportActor } from '../domain/support';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

export interface StockLevel {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
}

/** Who sets the stock and why: recorded in the inventory audit with the before and after. */
export interface StockChangeRequest {
  actor: SupportActor;
  reason: string;
}

/** PUT /admin/inventory/:sku: the counted stock of a product, never below what open checkouts reserve; audited. */
export async function setStock(
  { dbs }: Pick<UseCaseDeps, 'dbs'>,
  sku: string,
  onHand: number,
  by: StockChangeRequest,
): Promise<{ kind: 'set'; level: StockLevel } | Rejected> {
  if (!(await getProduct(dbs.catalog, sku))) return rejected('not_found', 'no such product');
  const result = await setOnHandAudited(dbs.inventory, sku, onHand, { actorId: by.actor.id, actorName: by.actor.name, reason: by.reason });
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

/** GET /admin/inventory/:sku/changes: the audit of a sku's counted stock, newest first. */
export async function stockHistory({ dbs }: Pick<UseCaseDeps, 'dbs'>, sku: string) {
  const rows = await stockChangesOf(dbs.inventory, sku);
  return rows.map((r) => ({
    sku: r.sku,
    onHandBefore: r.onHandBefore,
    onHandAfter: r.onHandAfter,
    reserved: r.reserved,
    actor: { id: r.actorId, name: r.actorName },
    reason: r.reason,
    at: r.at.toISOString(),
  }));
}
