/**
 * The benches' worker in a process of its own, as `npm run dev` runs it beside the API: the
 * same worker as bench/in-process-stack.ts (production tuning, plus the baselines' `noop`
 * activity) on `taskQueue`. `startWorkerProcess` spawns it and resolves once it polls;
 * `stop` shuts it down (SIGTERM: the worker drains, then exits).
 *
 * Run alone: `node --import tsx bench/worker-process.ts <taskQueue>` (prints `ready`).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { NativeConnection, Worker, DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { createRedis } from '../db/redis';
import { createLogger } from '../logger';
import { payloadDataConverter } from '../temporal/codec';
import { buildActivityDeps } from '../workers/deps';
import { WORKER_TUNING } from '../workers/worker';

const ROOT = path.resolve(__dirname, '..');

export async function startWorkerProcess(taskQueue: string, env: Record<string, string> = {}): Promise<{ pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', `file://${ROOT}/node_modules/tsx/dist/loader.mjs`, __filename, taskQueue], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    // its stdin is this process's pipe: when this process ends, however it ends, the worker stops
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bench worker process exited (${code}) before it was ready`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    pid: child.pid as number,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function main(taskQueue: string) {
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: ['SIGTERM', 'SIGINT'] });
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: taskQueue, CHECKOUT_WAIT_MS: '30000' });
  const logger = createLogger('silent');
  const dbs = createDatabases({ ...config, databasePoolSize: 40 });
  const redis = createRedis(config);
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const deps = buildActivityDeps({ config, logger, dbs, redis });
  const worker = await Worker.create({
    dataConverter: payloadDataConverter(config.privacy.payloadKeys),
    connection: native,
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: { ...createActivities(deps), noop: async () => undefined },
    ...WORKER_TUNING,
  });
  const running = worker.run();
  // the bench that spawned it is gone (its end of stdin closed): stop, do not poll on alone
  process.stdin.on('end', () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  });
  process.stdin.resume();
  process.stdout.write('ready\n');
  await running;
  process.stdin.destroy();
  deps.mailer.close();
  await native.close();
  redis.disconnect();
  await dbs.close();
}

if (require.main === module) {
  main(process.argv[2] ?? 'bench').catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
