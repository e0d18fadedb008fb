import type { estypes } from '@elastic/elasticsearch';

/**
 * One mapping for every engine we run: the standard analyzer and a `completion` field only,
 * so the same index works on the jar-launched node used here (no analysis-common, no
 * painless) and on the official distribution from docker-compose.
 */
export const INDEX_SETTINGS: estypes.IndicesIndexSettings = { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '500ms' };

export const INDEX_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    sku: { type: 'keyword' },
    name: { type: 'text', analyzer: 'standard', fields: { raw: { type: 'keyword', ignore_above: 512 } } },
    description: { type: 'text', analyzer: 'standard' },
    category: { type: 'keyword' },
    attributes: { type: 'object', enabled: false },
    attributesText: { type: 'text', analyzer: 'standard' },
    price: { type: 'long' },
    currency: { type: 'keyword' },
    active: { type: 'boolean' },
    available: { type: 'integer' },
    inStock: { type: 'boolean' },
    createdAt: { type: 'date' },
    productVersion: { type: 'long' },
    stockVersion: { type: 'long' },
    suggest: { type: 'completion', analyzer: 'simple', max_input_length: 100 },
  },
};
