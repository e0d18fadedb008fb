import type { Client } from '@elastic/elasticsearch';

/** What every call to the search engine needs: the client, the alias it works through, its timeout. */
export interface SearchEngine {
  readonly client: Client;
  readonly alias: string;
  readonly timeoutMs: number;
}
