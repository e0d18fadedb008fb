import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pct, runLevel } from './harness';

const TSX = ['--import', 'tsx'];

async function freePort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** A server in a process of its own (the load generator must not share its event loop), once it answers /health. */
async function startServer(script: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<{ base: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, ...TSX, script], {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'silent', ORDERLY_MODE: 'test', ...env },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    if (await fetch(`${base}/health`).then((r) => r.ok, () => false)) return { base, child };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGTERM');
  throw new Error(`${script} did not start`);
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
const CLOCK_TICKS = 100;

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/**
 * `PUT /carts/:id/lines/:sku` of the API beside a bare Express route running the same Lua
 * script on the same Redis (bench/bare-cart-server.ts), each in a process of its own, at
 * concurrency 10, in alternating rounds of the same run (which goes first alternates too), so a
 * busy machine weighs on both alike. The carts have an email (a reminder run is started by each
 * cart's first write, as in a shop); 10 carts per side. `apiRoot`: the tree whose api/server.ts
 * runs (another checkout measures a before figure with this same bench).
 */
export async function measurePutVsBare(sku: string, opts: { env?: Record<string, string>; rounds?: number; perRound?: number; apiRoot?: string; apiNodeArgs?: string[] } = {}) {
  const env = opts.env ?? {};
  const rounds = opts.rounds ?? 6;
  const perRound = opts.perRound ?? 500;
  const api = await startServer(path.join(opts.apiRoot ?? path.join(__dirname, '..'), 'api/server.ts'), env, opts.apiNodeArgs);
  const bare = await startServer(path.join(__dirname, 'bare-cart-server.ts'), env);
  try {
    const newCarts = async () => {
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${api.base}/carts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `bench-cart-${i}@example.com` }) });
        ids.push(((await res.json()) as { id: string }).id);
      }
      return ids;
    };
    const sides = {
      api: { base: api.base, pid: api.child.pid, carts: await newCarts(), ms: [] as number[], cpuMs: 0 },
      bare: { base: bare.base, pid: bare.child.pid, carts: await newCarts(), ms: [] as number[], cpuMs: 0 },
    };
    const put = (side: (typeof sides)['api'], i: number) =>
      fetch(`${side.base}/carts/${side.carts[i % 10]}/lines/${sku}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quantity: (i % 5) + 1 }) }).then(async (r) => {
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`PUT answered ${r.status}`);
      });
    // warm-up, untimed: pools open their connections, the JIT settles, each cart's first write starts its run
    for (const side of [sides.api, sides.bare]) await runLevel(10, 500, (i) => put(side, i));
    const perSecond = { api: [] as number[], bare: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['api', 'bare'] as const) : (['bare', 'api'] as const);
      for (const name of order) {
        const side = sides[name];
        const cpuBefore = cpuMs(side.pid);
        const level = await runLevel(10, perRound, async (i) => {
          const t = performance.now();
          await put(side, i);
          side.ms.push(performance.now() - t);
        });
        side.cpuMs += cpuMs(side.pid) - cpuBefore;
        perSecond[name].push(level.perSecond);
      }
    }
    const figures = (name: 'api' | 'bare') => ({
      p50ms: +pct(sides[name].ms, 50).toFixed(2),
      p99ms: +pct(sides[name].ms, 99).toFixed(2),
      perSecond: +(perSecond[name].reduce((a, b) => a + b, 0) / rounds).toFixed(0),
      // the server process's own CPU per request: what a busy machine does not blur
      cpuMsPerPut: +(sides[name].cpuMs / (rounds * perRound)).toFixed(3),
    });
    const a = figures('api');
    const b = figures('bare');
    return {
      concurrency: 10,
      rounds,
      requestsPerSide: rounds * perRound,
      api: a,
      bareScript: b,
      p50Ratio: +(a.p50ms / b.p50ms).toFixed(2),
      p99Ratio: +(a.p99ms / b.p99ms).toFixed(2),
      cpuRatio: +(a.cpuMsPerPut / b.cpuMsPerPut).toFixed(2),
    };
  } finally {
    await Promise.all([stop(api.child), stop(bare.child)]);
  }
}
