import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NativeConnectionPlugin, WorkerPlugin } from '@temporalio/worker';
import { loadConfig } from '../../config';
import { payloadDataConverter } from '../../temporal/codec';

const SEARCH_ATTRIBUTES = ['OrderId', 'CartId', 'CustomerEmailHash', 'CheckoutStatus', 'RefundStatus'];
const TOOLS = path.resolve(__dirname, '../../.tools/venv/bin');

/** Time-skipping test server installed by scripts/bootstrap.sh (never downloaded). */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  // The payload codec of every Orderly client and worker: the env's client, and every worker on env.nativeConnection (a plugin of the connection).
  const dataConverter = testDataConverter();
  const codecOnWorkers: NativeConnectionPlugin & WorkerPlugin = {
    name: 'orderly-payload-codec',
    configureWorker: (options) => ({ ...options, dataConverter: { ...options.dataConverter, ...dataConverter } }),
  };
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: path.join(TOOLS, 'temporal-test-server') } },
    client: { dataConverter },
    plugins: [codecOnWorkers],
  });
  // The workflows upsert the product's custom search attributes; register them here too.
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((name) => [name, keyword])),
  });
  return env;
}

/** The workflow bundle built once by test/setup/global-setup.ts. */
export function workflowBundle(): { codePath: string } {
  const codePath = process.env.WORKFLOW_BUNDLE_PATH;
  if (!codePath) throw new Error('WORKFLOW_BUNDLE_PATH is not set: run the suite with `npm test`');
  return { codePath };
}

let counter = 0;
/** A task queue of its own per test, so parallel test files never steal each other's tasks. */
export function uniqueTaskQueue(name: string): string {
  counter += 1;
  return `${name}-${process.pid}-${counter}-${Date.now().toString(36)}`;
}

/** The payload codec of a test process (the dev key unless the environment sets PAYLOAD_ENCRYPTION_*), as every client and worker of Orderly has it. */
export function testDataConverter(): ReturnType<typeof payloadDataConverter> {
  return payloadDataConverter(loadConfig({ ...process.env, ORDERLY_MODE: 'test' }).privacy.payloadKeys);
}

