import { errors } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import type { SearchEngine } from './engine';
import { INDEX_MAPPINGS, INDEX_SETTINGS } from './mapping';

/**
 * The alias readers and the sync go through, and the concrete indices behind it:
 * `npm run reindex` builds a fresh index and swaps the alias to it in one step.
 */

/**
 * Index administration (create an index, move the alias) changes the cluster state and waits for
 * the new shards: on a busy node that takes seconds, far beyond a search's SEARCH_TIMEOUT_MS, and
 * a timed-out create leaves the caller not knowing whether the index exists. These calls wait as
 * the bulk indexing does.
 */
const adminTimeout = (engine: SearchEngine) => ({ requestTimeout: Math.max(engine.timeoutMs, 30_000) });
/** How many times the first index's create is sent when it times out. */
const CREATE_ATTEMPTS = 3;

/** The concrete index the alias points to, if any. */
export async function liveIndex({ client, alias }: SearchEngine): Promise<string | undefined> {
  try {
    const res = await client.indices.getAlias({ name: alias });
    return Object.keys(res)[0];
  } catch (err) {
    if (err instanceof errors.ResponseError && err.statusCode === 404) return undefined;
    throw err;
  }
}

/** A new, empty index with our mapping, named after the alias and a suffix. */
export async function createIndex(engine: SearchEngine, suffix: string): Promise<string> {
  const index = `${engine.alias}-${suffix}`;
  await engine.client.indices.create({ index, settings: INDEX_SETTINGS, mappings: INDEX_MAPPINGS }, adminTimeout(engine));
  return index;
}

/** Creates the first index and its alias when there is none (safe to race: one wins). */
export async function ensureIndex(engine: SearchEngine): Promise<string> {
  const live = await liveIndex(engine);
  if (live) return live;
  const index = `${engine.alias}-initial`;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await engine.client.indices.create({ index, settings: INDEX_SETTINGS, mappings: INDEX_MAPPINGS, aliases: { [engine.alias]: {} } }, adminTimeout(engine));
      break;
    } catch (err) {
      if (err instanceof errors.ResponseError && err.body && JSON.stringify(err.body).includes('resource_already_exists')) break;
      // Timed out: the node may still be creating it (a busy node, or one that just started).
      // Asked again: the create answers it exists (above), or finishes it.
      if (err instanceof errors.TimeoutError && attempt < CREATE_ATTEMPTS) continue;
      throw err;
    }
  }
  return (await liveIndex(engine)) ?? index;
}

/** Points the alias at `index` in one atomic step; returns the index it pointed to before. */
export async function swapAlias(engine: SearchEngine, index: string): Promise<string | undefined> {
  const previous = await liveIndex(engine);
  const actions: estypes.IndicesUpdateAliasesAction[] = [{ add: { index, alias: engine.alias, is_write_index: true } }];
  if (previous && previous !== index) actions.unshift({ remove: { index: previous, alias: engine.alias } });
  await engine.client.indices.updateAliases({ actions }, adminTimeout(engine));
  return previous;
}
