import { performance } from 'node:perf_hooks';
import type { Databases } from '../db/client';
import type { StoredFailure } from '../db/schema/order';
import type { Shortage } from '../db/stores/holds';
import { stockLevels } from '../db/stores/inventory';
import { stockLines, type SkuQuantity } from '../domain/cart';
import type { Logger } from '../logger';

/** The message the workflow's hold answers when it is refused (with "nothing was charged" added, as withMoney does). */
export const OUT_OF_STOCK_MESSAGE = 'not enough stock for some items; nothing was charged';

/** Readings kept per process (the oldest go first): a SKU's is a few dozen bytes. */
const MAX_READINGS = 10_000;

/** One read of a SKU's `on_hand - reserved`, and when that read was sent (performance.now()). */
interface Reading {
  available: number;
  at: number;
}

/**
 * The sold-out readings of one process (SOLD_OUT_CACHE_MS): a reading younger than `maxAgeMs`
 * that is short of what a cart asks refuses it without reading PostgreSQL again. A reading is
 * only ever used to refuse: one that shows enough stock is read again, and the hold decides.
 * Reads of the same SKUs sent within `maxAgeMs` are shared (a flash sale's hundred concurrent
 * losers read once). The bound: a checkout that arrives more than `maxAgeMs` after a unit came
 * back (restock, released or expired hold) is judged on a read sent after the unit came back.
 */
export class SoldOutReadings {
  private readonly readings = new Map<string, Reading>();
  private readonly inFlight = new Map<string, { at: number; read: Promise<Map<string, number> | undefined> }>();
  /** Reads sent to PostgreSQL (for tests and the bench). */
  reads = 0;

  constructor(
    readonly maxAgeMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** The available stock of a fresh reading short of `quantity`, else undefined. */
  refusing(sku: string, quantity: number): number | undefined {
    const r = this.readings.get(sku);
    if (!r || this.clock() - r.at >= this.maxAgeMs || r.available >= quantity) return undefined;
    return r.available;
  }

  /** Available stock of `skus` from one read (or a shared one sent less than maxAgeMs ago); undefined when the read failed. */
  read(skus: string[], fetch: (skus: string[]) => Promise<Map<string, number>>): Promise<Map<string, number> | undefined> {
    const key = [...skus].sort().join('\u0000');
    const now = this.clock();
    const shared = this.inFlight.get(key);
    if (shared && now - shared.at < this.maxAgeMs) return shared.read;
    this.reads += 1;
    const read = fetch(skus).then(
      (levels) => {
        for (const sku of skus) this.remember(sku, { available: levels.get(sku) ?? 0, at: now });
        return levels;
      },
      () => undefined,
    );
    const entry = { at: now, read };
    this.inFlight.set(key, entry);
    void read.finally(() => {
      if (this.inFlight.get(key) === entry) this.inFlight.delete(key);
    });
    return read;
  }

  private remember(sku: string, reading: Reading) {
    const known = this.readings.get(sku);
    // a read sent earlier that answers later never overwrites a newer one
    if (known && known.at > reading.at) return;
    this.readings.delete(sku);
    this.readings.set(sku, reading);
    if (this.readings.size > MAX_READINGS) this.readings.delete(this.readings.keys().next().value as string);
  }
}

/** One set of readings per process and stock database (and bound). */
const perDatabase = new WeakMap<object, SoldOutReadings>();

/** The process's sold-out readings for this database, or undefined when SOLD_OUT_CACHE_MS is 0. */
export function soldOutReadings(dbs: Pick<Databases, 'inventory'>, maxAgeMs: number | undefined): SoldOutReadings | undefined {
  if (!maxAgeMs || maxAgeMs <= 0) return undefined;
  let readings = perDatabase.get(dbs.inventory);
  if (!readings || readings.maxAgeMs !== maxAgeMs) {
    readings = new SoldOutReadings(maxAgeMs);
    perDatabase.set(dbs.inventory, readings);
  }
  return readings;
}

/**
 * The sold-out pre-check of POST /checkouts: one indexed read of `on_hand - reserved` for the
 * cart's SKUs (lines of one SKU summed, as the hold sums them). It returns the refusal the
 * workflow's hold would give — `out_of_stock` with `{ items: [{ sku, requested, available }] }`
 * for the short SKUs only — when the read shows less than the cart asks for, and undefined
 * otherwise. It never says yes for the hold: when stock remains, the hold's conditional UPDATE
 * is the only judge. A read that fails refuses nothing (the workflow decides as before).
 *
 * With `readings` (SOLD_OUT_CACHE_MS), a SKU whose reading of less than `maxAgeMs` ago is short
 * is not read again; the cart's other SKUs are (so the refusal lists every short SKU).
 */
export async function soldOutRefusal(
  dbs: Pick<Databases, 'inventory'>,
  logger: Logger,
  lines: readonly SkuQuantity[],
  readings?: SoldOutReadings,
): Promise<StoredFailure | undefined> {
  const wanted = stockLines(lines);
  if (wanted.length === 0) return undefined;
  const available = new Map<string, number>();
  for (const { sku, quantity } of wanted) {
    const known = readings?.refusing(sku, quantity);
    if (known !== undefined) available.set(sku, known);
  }
  const toRead = wanted.filter((l) => !available.has(l.sku)).map((l) => l.sku);
  if (toRead.length > 0) {
    const fetch = async (skus: string[]) => new Map([...(await stockLevels(dbs.inventory, skus))].map(([sku, l]) => [sku, l.available]));
    const read = readings
      ? await readings.read(toRead, fetch)
      : await fetch(toRead).catch(() => undefined);
    if (!read) {
      logger.warn('sold-out pre-check could not read stock; the checkout goes on');
      return undefined;
    }
    // a SKU without a stock row has none: the hold's UPDATE would match no row either
    for (const sku of toRead) available.set(sku, read.get(sku) ?? 0);
  }
  return refusalOf(lines, available);
}

/**
 * The hold's refusal for `lines` (summed per SKU) given the available stock of each SKU (a SKU
 * missing from `available` has none), or undefined when every SKU has enough.
 */
export function refusalOf(lines: readonly SkuQuantity[], available: ReadonlyMap<string, number>): StoredFailure | undefined {
  const items: Shortage[] = [];
  for (const { sku, quantity } of stockLines(lines)) {
    const have = Math.max(0, available.get(sku) ?? 0);
    if (have < quantity) items.push({ sku, requested: quantity, available: have });
  }
  // in SKU order, as the hold reports them
  items.sort((a, b) => (a.sku < b.sku ? -1 : 1));
  return items.length > 0 ? { code: 'out_of_stock', message: OUT_OF_STOCK_MESSAGE, details: { items } } : undefined;
}
