import type { RedisClient } from '../db/redis';
import type { SearchIndex } from '../db/search-engine/search-index';
import type { ApiMetrics } from './metrics';
import type { UseCaseDeps } from '../usecases/deps';

/**
 * Everything the HTTP edge needs, built once in server.ts (or a test) and passed in: what the
 * use cases reach (usecases/deps.ts) plus the edge's own clients.
 */
export interface AppDeps extends UseCaseDeps {
  redis: RedisClient;
  /** Product search; built from config when absent. */
  search?: SearchIndex;
  /** Prometheus metrics (server.ts serves them on METRICS_PORT); a fresh registry when absent. */
  metrics?: ApiMetrics;
}
