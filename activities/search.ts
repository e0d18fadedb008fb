import { markSearchChangesIndexed, pendingSearchChanges } from '../db/stores/search-outbox';
import { stockChangedSince } from '../db/stores/inventory';
import { currentDocuments } from '../db/stores/search-documents';
import type { SearchIndex } from '../db/search-engine/search-index';
import { kickSearchSync } from '../temporal/search-sync';
import type { ActivityDeps } from './deps';

/** Outbox rows per drain, and stock rows per tick. */
const OUTBOX_BATCH = 500;
const STOCK_BATCH = 1_000;
/**
 * Stock changes are re-read from this far before the last watermark: a transaction that
 * committed after a later one carries the earlier time. Re-sent documents cost a 409.
 */
const STOCK_OVERLAP_MS = 5_000;

export interface SearchSyncResult {
  /** Documents written because of catalog changes (the outbox) and stock changes. */
  products: number;
  stock: number;
  /** Documents the index already held at that version or newer. */
  stale: number;
  /** The batch was full: call again at once. */
  more: boolean;
  stockSince?: string;
}

export function searchActivities({ dbs, search, temporal, config }: ActivityDeps & { search: SearchIndex }) {
  let ensured = false;
  return {
    /**
     * One tick of the sync: drains a batch of the catalog outbox, then pushes stock changes
     * since the watermark. Documents are read from the stores at this moment and written
     * with external versions, so a retry, a zombie attempt or a reindex racing it can only
     * be refused as stale, never roll a document back.
     */
    async syncSearchIndex(req: { stockSince?: string }): Promise<SearchSyncResult> {
      if (!ensured) {
        await search.ensureIndex();
        ensured = true;
      }
      let products = 0;
      let stale = 0;
      let more = false;
      const done = new Set<string>();

      const batch = await pendingSearchChanges(dbs.catalog, OUTBOX_BATCH);
      if (batch) {
        const r = await search.indexDocuments(await currentDocuments(dbs, batch.skus));
        products += r.indexed;
        stale += r.stale;
        await markSearchChangesIndexed(dbs.catalog, batch);
        batch.skus.forEach((s) => done.add(s));
        more = batch.skus.length >= OUTBOX_BATCH;
      }

      // Stock changes since the watermark, plus the few seconds before it again (late commits).
      const watermark = req.stockSince ? Date.parse(req.stockSince) : 0;
      const fresh = await stockChangedSince(dbs.inventory, new Date(watermark), STOCK_BATCH);
      const late = watermark > 0 ? await stockChangedSince(dbs.inventory, new Date(watermark - STOCK_OVERLAP_MS), STOCK_BATCH) : { levels: [] };
      const stockSkus = [...new Set([...fresh.levels, ...late.levels].map((l) => l.sku))].filter((s) => !done.has(s));
      let stock = 0;
      if (stockSkus.length > 0) {
        const r = await search.indexDocuments(await currentDocuments(dbs, stockSkus));
        stock += r.indexed;
        stale += r.stale;
      }
      if (fresh.levels.length >= STOCK_BATCH) more = true;
      const newest = fresh.newest && fresh.newest.getTime() > watermark ? fresh.newest.toISOString() : req.stockSince;
      return { products, stock, stale, more, stockSince: newest };
    },

    /** The Schedule's safety net: the sync runs (and drains) even if a signal was missed or it was terminated. */
    async ensureSearchSync(): Promise<void> {
      if (!temporal) throw new Error('ensureSearchSync needs a Temporal client in the activity deps');
      await kickSearchSync(temporal, config);
    },
  };
}
