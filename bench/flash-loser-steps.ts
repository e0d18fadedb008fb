/**
 * Where a flash-sale loser's time goes: each step of the loser path of POST /checkouts
 * (bench/flash-sale.ts) timed alone at the flash concurrency against the real stores, and the
 * whole answer through the in-process API, on a SKU with no stock (so every checkout loses at
 * the pre-check and no workflow runs). Also the event loop's utilisation in each phase: a
 * loop near 1.0 means the latency is the queue in this one process, not the stores.
 *
 * A diagnostic, not part of `npm run bench`: `node --import tsx bench/flash-loser-steps.ts`.
 * FLASH_BUYERS, FLASH_CONCURRENCY change the shape; FLASH_CPU_PROFILE=<dir> writes a CPU
 * profile of the HTTP phase.
 */
import fs from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { upsertProduct } from '../db/stores/catalog';
import { CartStore } from '../db/stores/cart';
import { findCheckoutByKey, openCheckout } from '../db/stores/checkouts';
import { setOnHand } from '../db/stores/inventory';
import { createLogger } from '../logger';
import { placeCheckout } from '../usecases/place-checkout';
import { soldOutRefusal } from '../usecases/sold-out';
import { checkoutWorkflowId } from '../temporal/workflow-ids';
import { pct, runLevel } from './harness';
import { startInProcessStack } from './in-process-stack';

async function phase(name: string, concurrency: number, n: number, one: (i: number) => Promise<unknown>) {
  const lat: number[] = [];
  const elu0 = performance.eventLoopUtilization();
  const res = await runLevel(concurrency, n, async (i) => {
    const t = performance.now();
    await one(i);
    lat.push(performance.now() - t);
  });
  const elu = performance.eventLoopUtilization(elu0);
  return { name, perSecond: +res.perSecond.toFixed(0), p50ms: +pct(lat, 50).toFixed(1), p99ms: +pct(lat, 99).toFixed(1), eventLoopUtilization: +elu.utilization.toFixed(2) };
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const run = Date.now().toString(36);
  const { config, dbs, redis, client, post, base, stop } = await startInProcessStack(`bench-steps-${run}`, { worker: false });
  const buyers = Number(process.env.FLASH_BUYERS ?? 2000);
  const concurrency = Number(process.env.FLASH_CONCURRENCY ?? 100);
  const hot = `STEPS-${run}`;
  await upsertProduct(dbs.catalog, { sku: hot, name: 'Sold out', priceAmount: 500, currency: 'USD' });
  await setOnHand(dbs.inventory, hot, 0);
  const carts = new CartStore(redis, dbs.cart, config.cart);
  const ids: string[] = [];
  await runLevel(50, buyers * 2, async () => {
    const cart = await post('/carts', {});
    await post(`/carts/${cart.body.id}/lines/${hot}`, { quantity: 1 });
    ids.push(cart.body.id as string);
  });
  const logger = createLogger('silent');
  const rows: Awaited<ReturnType<typeof phase>>[] = [];
  const cart = (i: number) => ids[i] as string;
  rows.push(await phase('idempotency lookup (findCheckoutByKey)', concurrency, buyers, (i) => findCheckoutByKey(dbs.order, cart(i), `steps-${i}`)));
  rows.push(await phase('cart read (Redis GET)', concurrency, buyers, (i) => carts.get(cart(i))));
  rows.push(await phase('sold-out pre-check (stock read)', concurrency, buyers, () => soldOutRefusal(dbs, logger, [{ sku: hot, quantity: 1 }])));
  rows.push(
    await phase('refusal recorded (openCheckout insert)', concurrency, buyers, (i) =>
      openCheckout(dbs.order, { cartId: cart(i), idempotencyKey: `steps-${i}`, requestHash: 'h', email: 'flash@example.com', workflowId: checkoutWorkflowId(cart(i)) }, { code: 'out_of_stock', message: 'm', details: {} }),
    ),
  );
  // the loser path before (lookup, cart, stock read, insert) and now (cart, a fresh sold-out
  // reading, insert), both without HTTP, alternated in rounds in this process
  const deps = { dbs, temporal: client, config, logger, carts };
  const before = async (i: number, key: string) => {
    await findCheckoutByKey(dbs.order, cart(i), key);
    const c = await carts.get(cart(i));
    const refusal = await soldOutRefusal(dbs, logger, c?.lines ?? []);
    await openCheckout(dbs.order, { cartId: cart(i), idempotencyKey: key, requestHash: 'h', email: 'flash@example.com', workflowId: checkoutWorkflowId(cart(i)) }, refusal);
  };
  const now = async (i: number, key: string) => {
    const r = await placeCheckout(deps, { key, requestHash: 'h' }, { cartId: cart(i), email: 'flash@example.com', paymentToken: 'tok_visa' });
    if (r.kind !== 'failed' || r.code !== 'out_of_stock') throw new Error(`not refused: ${r.kind}`);
  };
  const rounds = Number(process.env.STEPS_ROUNDS ?? 3);
  const slice = Math.floor(buyers / rounds);
  for (let r = 0; r < rounds; r++) {
    rows.push(await phase(`round ${r + 1}: loser path before (no HTTP)`, concurrency, slice, (i) => before(i + r * slice, `steps-before-${r}-${i}`)));
    rows.push(await phase(`round ${r + 1}: loser path now (no HTTP)`, concurrency, slice, (i) => now(i + r * slice, `steps-now-${r}-${i}`)));
  }
  // the whole answer through HTTP: a bad request (no Idempotency-Key) is the floor of middleware + client
  rows.push(await phase('HTTP floor: 400 without Idempotency-Key', concurrency, buyers, () => post('/checkouts', { cartId: cart(0), email: 'flash@example.com', paymentToken: 'tok_visa' })));
  // the same floor with node:http and a keep-alive agent instead of fetch: what the bench's own client costs
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const port = Number(new URL(base).port);
  const bare = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/checkouts', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ cartId: cart(0), email: 'flash@example.com', paymentToken: 'tok_visa' }));
    });
  for (let r = 0; r < 2; r++) {
    rows.push(await phase(`HTTP floor, fetch client (round ${r + 1})`, concurrency, buyers / 2, () => post('/checkouts', { cartId: cart(0), email: 'flash@example.com', paymentToken: 'tok_visa' })));
    rows.push(await phase(`HTTP floor, node:http client (round ${r + 1})`, concurrency, buyers / 2, bare));
  }
  agent.destroy();
  const profileDir = process.env.FLASH_CPU_PROFILE;
  const session = profileDir ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  rows.push(
    await phase('HTTP: POST /checkouts, sold out', concurrency, buyers, async (i) => {
      const res = await post('/checkouts', { cartId: cart(i + buyers), email: 'flash@example.com', paymentToken: 'tok_visa' }, { 'Idempotency-Key': `steps-http-${i}` });
      if (res.status !== 409) throw new Error(`answered ${res.status}`);
    }),
  );
  if (session && profileDir) {
    const { profile } = await session.post('Profiler.stop');
    fs.mkdirSync(profileDir, { recursive: true });
    fs.writeFileSync(path.join(profileDir, `flash-losers-${run}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
  console.log(`load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, concurrency ${concurrency}, ${buyers} each`);
  console.table(rows);
  await stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
