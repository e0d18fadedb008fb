import { Client as TemporalClient } from '@temporalio/client';
import { loadConfig, type Config } from '../config';
import { createDatabases, type Databases } from '../db/client';
import { productPage, productsChangedSince } from '../db/stores/catalog';
import { stockChangedSince } from '../db/stores/inventory';
import { currentDocuments } from '../db/stores/search-documents';
import { SearchIndex } from '../db/search-engine/search-index';
import { connectTemporal } from '../temporal/client';
import { kickSearchSync } from '../temporal/search-sync';

const PAGE = 1_000;
/**
 * Changes up to this long before the reindex started are sent again after the swap. It
 * covers a write whose transaction began before the start and committed during the load
 * (catalog writes are single short transactions).
 */
const MARGIN_MS = 60_000;

export interface ReindexResult {
  index: string;
  previous?: string;
  loaded: number;
  caughtUp: number;
}

/** Every sku whose catalog or stock data changed at or after `since`. */
async function changedSince(dbs: Pick<Databases, 'catalog' | 'inventory'>, since: Date): Promise<string[]> {
  const skus = new Set(await productsChangedSince(dbs.catalog, since));
  let from = since;
  for (;;) {
    const { levels, newest } = await stockChangedSince(dbs.inventory, from, PAGE);
    levels.forEach((l) => skus.add(l.sku));
    if (levels.length < PAGE || !newest || newest.getTime() <= from.getTime()) break;
    from = newest;
  }
  return [...skus];
}

/**
 * Builds a new index from the stores, swaps the alias to it in one atomic step, then sends
 * again everything that changed since the load began (the sync wrote those to the old
 * index until the swap). External versions make the overlap harmless: whichever of the
 * reindex and the sync writes second, the newer version stays. Searches always have an index.
 */
export async function reindex(config: Config, opts: { keepPrevious?: boolean; log?: (line: string) => void } = {}): Promise<ReindexResult> {
  const log = opts.log ?? (() => undefined);
  const dbs = createDatabases(config);
  const search = new SearchIndex(config);
  try {
    const startedAt = new Date(Date.now() - MARGIN_MS);
    const index = await search.createIndex();
    log(`created ${index}`);
    let loaded = 0;
    let after: string | undefined;
    for (;;) {
      const page = await productPage(dbs.catalog, after, PAGE);
      if (page.length === 0) break;
      const r = await search.indexDocuments(await currentDocuments(dbs, page.map((p) => p.sku)), { index });
      loaded += r.indexed + r.stale;
      after = page[page.length - 1]?.sku;
      log(`loaded ${loaded}`);
    }
    await search.client.indices.refresh({ index });
    const previous = await search.swapAlias(index);
    log(`alias ${config.search.alias} → ${index}${previous ? ` (was ${previous})` : ''}`);

    const changed = await changedSince(dbs, startedAt);
    let caughtUp = 0;
    for (let i = 0; i < changed.length; i += PAGE) {
      const r = await search.indexDocuments(await currentDocuments(dbs, changed.slice(i, i + PAGE)), { index });
      caughtUp += r.indexed;
    }
    log(`re-sent ${changed.length} skus changed during the load (${caughtUp} newer than what was loaded)`);
    if (previous && previous !== index && !opts.keepPrevious) {
      await search.client.indices.delete({ index: previous });
      log(`deleted ${previous}`);
    }
    return { index, previous, loaded, caughtUp };
  } finally {
    await search.close();
    await dbs.close();
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const result = await reindex(config, { log: (line) => process.stdout.write(`[reindex] ${line}\n`) });
  // Wake the sync so anything still in the outbox goes to the new index at once.
  let temporal: TemporalClient | undefined;
  try {
    temporal = await connectTemporal(config);
    await kickSearchSync(temporal, config);
  } catch (err) {
    process.stderr.write(`[reindex] could not wake the search sync (the outbox keeps changes): ${String(err)}\n`);
  } finally {
    await temporal?.connection.close();
  }
  process.stdout.write(`[reindex] done: ${result.loaded} products in ${result.index}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`reindex failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
