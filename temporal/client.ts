import { Client, Connection, type ClientOptions } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { Config } from '../config';
import { tracingEnabled } from '../telemetry/tracing';
import { payloadDataConverter } from './codec';

/**
 * The client's interceptors: with tracing on, every start, update-with-start, signal and
 * query is a span whose context travels to the workflow in its headers.
 */
export function clientInterceptors(): ClientOptions['interceptors'] {
  return tracingEnabled() ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

/**
 * Every Temporal client of Orderly (API, worker, schedules, scripts, tests): payloads encrypted by
 * the codec (temporal/codec.ts), so what it starts, signals and reads is ciphertext in history.
 */
export function temporalClientOptions(config: Pick<Config, 'temporal' | 'privacy'>, connection: Connection): ClientOptions {
  return { connection, namespace: config.temporal.namespace, interceptors: clientInterceptors(), dataConverter: payloadDataConverter(config.privacy.payloadKeys) };
}

export async function connectTemporal(config: Pick<Config, 'temporal' | 'privacy'>): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return new Client(temporalClientOptions(config, connection));
}
