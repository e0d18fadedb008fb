import { Client, Connection, type ClientOptions } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { Config } from '../config';
import { tracingEnabled } from '../telemetry/tracing';

/**
 * The client's interceptors: with tracing on, every start, update-with-start, signal and
 * query is a span whose context travels to the workflow in its headers.
 */
export function clientInterceptors(): ClientOptions['interceptors'] {
  return tracingEnabled() ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

export async function connectTemporal(config: Pick<Config, 'temporal'>): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return new Client({ connection, namespace: config.temporal.namespace, interceptors: clientInterceptors() });
}
