import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

/**
 * An Elasticsearch node of the test's own (own port, own data dir), for tests that stop and
 * restart it. Started and stopped by its PID, never by name; `restart` keeps the data.
 */
export async function startElasticsearchNode(): Promise<{ url: string; stop(): Promise<void>; restart(): Promise<void>; remove(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderly-es-'));
  const port = await freePort();
  const home = process.env.ELASTICSEARCH_HOME ?? path.join(ROOT, '.tools/elasticsearch');
  let pid: number | undefined;
  const start = async () => {
    const { stdout } = await run('bash', [path.join(ROOT, 'scripts/elasticsearch/start.sh'), home, String(port), dir, path.join(dir, 'node.log')], { timeout: 90_000 });
    pid = Number(stdout.trim().split('\n').pop());
    if (!Number.isInteger(pid)) throw new Error(`elasticsearch start printed no pid: ${stdout}`);
  };
  const stop = async () => {
    if (pid === undefined) return;
    const stopping = pid;
    pid = undefined;
    try {
      process.kill(stopping, 'SIGTERM');
    } catch {
      return;
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        process.kill(stopping, 0);
      } catch {
        return;
      }
      if (Date.now() > deadline) {
        process.kill(stopping, 'SIGKILL');
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const killOnExit = () => {
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  };
  process.once('exit', killOnExit);
  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async remove() {
      await stop();
      process.removeListener('exit', killOnExit);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
