import { spawn } from 'node:child_process';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pct, runLevel } from './harness';

/**
 * Cart operations (add/update a line, get the cart) at concurrency 10 against the API in a
 * process of its own, as it runs in production: the load generator must not share the
 * server's event loop. Run first, while no checkout is still finishing.
 */
export async function measureCartOperations(sku: string, env: Record<string, string> = {}) {
  const cartApiPort = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const cartApi = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../api/server.ts')], {
    env: { ...process.env, PORT: String(cartApiPort), LOG_LEVEL: 'silent', ORDERLY_MODE: 'test', ...env },
    stdio: 'ignore',
  });
  const cartBase = `http://127.0.0.1:${cartApiPort}`;
  for (let i = 0; i < 150; i++) {
    const up = await fetch(`${cartBase}/health`).then(() => true, () => false);
    if (up) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const cartPut = (id: string, quantity: number) =>
    fetch(`${cartBase}/carts/${id}/lines/${sku}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quantity }) }).then((r) => r.arrayBuffer());
  const cartIds: string[] = [];
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${cartBase}/carts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    cartIds.push(((await res.json()) as { id: string }).id);
  }
  // warm-up, untimed: the pools open their connections and the JIT settles
  await runLevel(10, 500, async (i) => {
    const id = cartIds[i % 10] as string;
    if (i % 2 === 0) await cartPut(id, 1);
    else await fetch(`${cartBase}/carts/${id}`).then((r) => r.arrayBuffer());
  });
  const writes: number[] = [];
  const reads: number[] = [];
  const cartOps = await runLevel(10, 2000, async (i) => {
    const id = cartIds[i % 10] as string;
    const t = performance.now();
    if (i % 2 === 0) {
      await cartPut(id, (i % 5) + 1);
      writes.push(performance.now() - t);
    } else {
      await fetch(`${cartBase}/carts/${id}`).then((r) => r.arrayBuffer());
      reads.push(performance.now() - t);
    }
  });
  cartApi.kill('SIGTERM');
  return {
    concurrency: 10,
    requests: 2000,
    api: 'its own process',
    perSecond: +cartOps.perSecond.toFixed(0),
    p50ms: +cartOps.p50.toFixed(1),
    p99ms: +cartOps.p99.toFixed(1),
    addUpdateP50ms: +pct(writes, 50).toFixed(1),
    addUpdateP99ms: +pct(writes, 99).toFixed(1),
    getP50ms: +pct(reads, 50).toFixed(1),
    getP99ms: +pct(reads, 99).toFixed(1),
  };
}
