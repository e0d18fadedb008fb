import { Client } from '@elastic/elasticsearch';
import type { Config } from '../../config';
import { createIndex, ensureIndex, liveIndex, swapAlias } from './aliases';
import type { SearchDocument } from './document';
import type { SearchEngine } from './engine';
import { indexDocuments, indexedVersions, type IndexResult } from './indexing';
import { searchDocuments, suggestDocuments, type SearchPage, type SearchQuery } from './queries';

/**
 * The catalog's search index in Elasticsearch (a read model of the catalog, not a store of
 * record). The API reads and the sync writes through an alias (config.search.alias);
 * `npm run reindex` builds a fresh index behind it and swaps. Each concern lives in its own
 * module (mapping, document and version, aliases, bulk indexing, queries); this is the handle
 * callers hold.
 */
export class SearchIndex implements SearchEngine {
  readonly client: Client;
  readonly alias: string;
  readonly timeoutMs: number;

  constructor(config: Pick<Config, 'search'>, client?: Client) {
    this.alias = config.search.alias;
    this.timeoutMs = config.search.timeoutMs;
    this.client =
      client ??
      new Client({
        node: config.search.url,
        requestTimeout: config.search.timeoutMs,
        maxRetries: 0,
      });
  }

  /** Whether the node answers (cluster health: there is no `GET /` on every engine we run). */
  async healthy(): Promise<boolean> {
    try {
      const h = await this.client.cluster.health({ timeout: '1s' }, { requestTimeout: this.timeoutMs });
      return h.status !== 'red';
    } catch {
      return false;
    }
  }

  liveIndex(): Promise<string | undefined> {
    return liveIndex(this);
  }

  createIndex(suffix = `${Date.now()}`): Promise<string> {
    return createIndex(this, suffix);
  }

  ensureIndex(): Promise<string> {
    return ensureIndex(this);
  }

  swapAlias(index: string): Promise<string | undefined> {
    return swapAlias(this, index);
  }

  indexDocuments(docs: SearchDocument[], opts: { index?: string; refresh?: boolean } = {}): Promise<IndexResult> {
    return indexDocuments(this, docs, opts);
  }

  indexedVersions(skus: string[]): Promise<Map<string, { productVersion: number; stockVersion: number }>> {
    return indexedVersions(this, skus);
  }

  async refresh(): Promise<void> {
    await this.client.indices.refresh({ index: this.alias });
  }

  search(query: SearchQuery): Promise<SearchPage> {
    return searchDocuments(this, query);
  }

  suggest(prefix: string, size = 10): Promise<{ sku: string; name: string }[]> {
    return suggestDocuments(this, prefix, size);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
