/**
 * `npm run bench`: checkout throughput and latency through the real API, beside a bare
 * workflow of the same shape on the same Temporal server, measured in the same run;
 * cart operation latency. Prints a table and writes bench/results/latest.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { holdStock } from '../db/stores/holds';
import { sql } from 'drizzle-orm';
import { measureCartOperations } from './cart-operations';
import { measureFlashSale } from './flash-sale';
import { runLevel } from './harness';
import { startInProcessStack } from './in-process-stack';
import { measureCheckoutThroughput, THROUGHPUT_SHAPE } from './checkout-throughput';

Runtime.install({ logger: new DefaultLogger('ERROR') });

async function main() {
  const { dbs, client, post, stop } = await startInProcessStack('bench');

  const run = Date.now().toString(36);
  const sku = `BENCH-${run}`;
  await upsertProduct(dbs.catalog, { sku, name: 'Bench item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 1_000_000);

  const cartOperations = await measureCartOperations(sku);

  const rows = await measureCheckoutThroughput({ client, post, sku, run, taskQueue: 'bench' });

  // flash sale: 100 units, 2,000 buyers at concurrency 100 (bench/flash-sale.ts, also alone: BENCH_ONLY=flash)
  const flash = await measureFlashSale({ post, dbs, temporal: client, run });

  // inventory: the hold step on one hot SKU vs a raw conditional UPDATE loop, same PostgreSQL
  const hotHold = `HOLD-${run}`;
  await upsertProduct(dbs.catalog, { sku: hotHold, name: 'Hot SKU', priceAmount: 100, currency: 'USD' });
  await setOnHand(dbs.inventory, hotHold, 10_000_000);
  const holdRate = await runLevel(10, 2000, async (i) => {
    await holdStock(dbs.inventory, `bench-hold-${run}-${i}`, [{ sku: hotHold, quantity: 1 }], 600);
  });
  const rawRate = await runLevel(10, 2000, async () => {
    await dbs.inventory.execute(sql`update inventory.stock set reserved = reserved + 1 where sku = ${hotHold} and on_hand - reserved >= 1`);
  });
  const inventory = {
    holdsPerSecond: +holdRate.perSecond.toFixed(0),
    rawUpdatesPerSecond: +rawRate.perSecond.toFixed(0),
    ratio: +(holdRate.perSecond / rawRate.perSecond).toFixed(2),
    holdP99ms: +holdRate.p99.toFixed(1),
  };

  const result = {
    at: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, Temporal CLI dev server (in-memory)`,
    shape: THROUGHPUT_SHAPE,
    checkout: rows,
    flashSale: flash,
    inventory,
    cartOperations,
  };
  console.log(`\n${result.machine}\n${result.shape}\n`);
  console.table(rows);
  console.log('flash sale:', result.flashSale);
  console.log('inventory hold vs raw conditional UPDATE (concurrency 10, one SKU):', inventory);
  console.log('cart add/update/get at concurrency 10:', result.cartOperations);
  fs.writeFileSync(path.join(__dirname, 'results', 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);

  await stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
