import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The fault harness's processes: the shared services (scripts/services.sh) and one worker at a time. */

const ROOT = path.resolve(__dirname, '..');
const TSX = ['--import', `file://${ROOT}/node_modules/tsx/dist/loader.mjs`];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function services(action: 'start' | 'stop', which: string): void {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/services.sh'), action], { env: { ...process.env, SERVICES: which }, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`services.sh ${action} ${which} failed`);
}

let worker: ChildProcess | undefined;
export function startWorker(env: Record<string, string> = {}): void {
  worker = spawn(process.execPath, [...TSX, path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: 'ignore',
  });
}
export async function stopWorker(signal: NodeJS.Signals): Promise<void> {
  const w = worker;
  worker = undefined;
  if (!w || w.exitCode !== null) return;
  const exited = new Promise((r) => w.once('exit', r));
  w.kill(signal);
  await exited;
}
