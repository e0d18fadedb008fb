import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../temporal/codec';

/**
 * Runs once before the suite: checks that scripts/test.sh started the services, and
 * bundles the workflow code once so each test file's worker starts in milliseconds.
 */
export default async function globalSetup(): Promise<void> {
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'TEMPORAL_ADDRESS']) {
    if (!process.env[name]) {
      throw new Error(`${name} is not set: run the suite with \`npm test\`, which starts the services`);
    }
  }
  const dir = process.env.ORDERLY_DATA_DIR ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'orderly-bundle-')));
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    // as workers/main.ts: failure messages encoded (then encrypted by the codec) in the sandbox too
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m) => console.error(m) },
  });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  await fs.writeFile(bundlePath, code);
  process.env.WORKFLOW_BUNDLE_PATH = bundlePath;
}
