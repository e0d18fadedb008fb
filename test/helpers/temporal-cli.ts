import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const LOCAL_CLI = path.resolve(__dirname, '../../.tools/venv/bin/temporal');

/**
 * The Temporal CLI of scripts/bootstrap.sh (.tools), or the one on PATH. Asynchronous: with
 * `--codec-endpoint` it calls back into the test's own API, in this process.
 */
export async function temporalCli(args: string[]): Promise<string> {
  const cli = fs.existsSync(LOCAL_CLI) ? LOCAL_CLI : 'temporal';
  try {
    const { stdout } = await promisify(execFile)(cli, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('temporal CLI not found; scripts/bootstrap.sh installs it into .tools');
    throw new Error(`temporal ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

/**
 * Everything a reader of the history sees, as text: every string of the CLI's JSON, and each
 * string base64-decoded too (payload data and metadata are base64 in the JSON), so a plain-text
 * value inside a `json/plain` payload is found as surely as one in a failure message.
 */
export function readableText(json: string): string {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      out.push(v, Buffer.from(v, 'base64').toString('utf8'));
    } else if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push(k);
        walk(x);
      }
    }
  };
  walk(JSON.parse(json));
  return out.join('\n');
}
