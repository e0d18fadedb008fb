import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Databases } from '../db/client';
import type { CircuitBreakers } from '../db/stores/circuit-breakers';
import type { Logger } from '../logger';

/** What a use case reaches: the stores' databases, the Temporal client and configuration. */
export interface UseCaseDeps {
  config: Config;
  logger: Logger;
  dbs: Databases;
  temporal: Client;
  /** The circuit breakers every process shares (absent: nothing is refused up front). */
  breakers?: CircuitBreakers;
}
