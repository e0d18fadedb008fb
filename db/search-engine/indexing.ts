import { documentVersion, type SearchDocument } from './document';
import type { SearchEngine } from './engine';

export interface IndexResult {
  indexed: number;
  /** Already held at this version or a newer one (a replay, or an older read arriving late). */
  stale: number;
}

/**
 * Writes documents with external versions: an older version than the one held is refused
 * by Elasticsearch (counted as stale), so replays and late deliveries cannot go backwards.
 * `index` defaults to the alias (the sync); reindex writes to its new index directly.
 */
export async function indexDocuments(engine: SearchEngine, docs: SearchDocument[], opts: { index?: string; refresh?: boolean } = {}): Promise<IndexResult> {
  if (docs.length === 0) return { indexed: 0, stale: 0 };
  const index = opts.index ?? engine.alias;
  const operations = docs.flatMap((d) => [
    { index: { _index: index, _id: d.sku, version: documentVersion(d.productVersion, d.stockVersion), version_type: 'external' as const } },
    d,
  ]);
  const res = await engine.client.bulk(
    { operations, refresh: opts.refresh ?? false, ...(opts.index ? {} : { require_alias: true }) },
    { requestTimeout: Math.max(engine.timeoutMs, 30_000) },
  );
  let indexed = 0;
  let stale = 0;
  const failures: string[] = [];
  for (const item of res.items) {
    const r = item.index;
    if (!r) continue;
    if (r.status >= 200 && r.status < 300) indexed++;
    else if (r.status === 409) stale++;
    else failures.push(`${r._id}: ${r.status} ${r.error?.type ?? ''} ${r.error?.reason ?? ''}`);
  }
  if (failures.length > 0) throw new Error(`search index refused ${failures.length} documents: ${failures.slice(0, 3).join('; ')}`);
  return { indexed, stale };
}

/** The version held for each sku (audits and tests); missing skus are absent from the map. */
export async function indexedVersions({ client, alias }: SearchEngine, skus: string[]): Promise<Map<string, { productVersion: number; stockVersion: number }>> {
  const out = new Map<string, { productVersion: number; stockVersion: number }>();
  for (let i = 0; i < skus.length; i += 500) {
    const res = await client.mget<SearchDocument>({ index: alias, ids: skus.slice(i, i + 500), _source_includes: ['productVersion', 'stockVersion'] });
    for (const d of res.docs) {
      if ('found' in d && d.found && d._source) out.set(d._id, { productVersion: d._source.productVersion, stockVersion: d._source.stockVersion });
    }
  }
  return out;
}
