import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import type { Databases } from '../db/client';
import type { SearchIndex } from '../db/search-engine/search-index';
import type { Logger } from '../logger';

/** Everything the HTTP edge needs, built once in server.ts (or a test) and passed in. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  dbs: Databases;
  redis: Redis;
  temporal: Client;
  /** Product search; built from config when absent. */
  search?: SearchIndex;
}
