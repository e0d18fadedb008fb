import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const BINARY = path.resolve(__dirname, '../../.tools/bin/stripe-mock');

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/**
 * The stripe-mock the suite's services started (STRIPE_API_BASE), or — when it does not answer
 * (one CI run lost it mid-suite, cause unknown) — one started here, on free ports, for this file.
 * `stop` ends only a process started here.
 */
export async function stripeMock(base: string | undefined): Promise<{ base: string; stop(): void }> {
  const port = base ? Number(new URL(base).port) : NaN;
  if (Number.isInteger(port) && (await answers(port))) return { base: base as string, stop: () => undefined };
  const http = await freePort();
  const https = await freePort();
  const child: ChildProcess = spawn(BINARY, ['-http-port', String(http), '-https-port', String(https)], { stdio: 'ignore' });
  process.stderr.write(`stripe-mock at ${base ?? '(none)'} did not answer: started one on ${http} for this test file\n`);
  for (let i = 0; i < 100 && !(await answers(http)); i += 1) await new Promise((r) => setTimeout(r, 100));
  return { base: `http://127.0.0.1:${http}`, stop: () => void child.kill('SIGTERM') };
}
