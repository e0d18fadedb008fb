import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';

export async function connectTemporal(config: Pick<Config, 'temporal'>): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return new Client({ connection, namespace: config.temporal.namespace });
}
