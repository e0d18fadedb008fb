import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/**
 * The real worker process (workers/main.ts) on a task queue, for tests that SIGKILL or SIGTERM
 * it. `--import tsx` keeps it one process: a signal hits the worker itself.
 */
export function startWorkerProcess(taskQueue: string, extraEnv: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: taskQueue, ...extraEnv },
    stdio: 'ignore',
  });
}
