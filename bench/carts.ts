import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { measureCartOperations } from './cart-operations';

/**
 * Only the cart part of `npm run bench` (BENCH_ONLY=carts): add/update/get at concurrency 10
 * against the API in its own process, on the single node (REDIS_URL) and, when
 * BENCH_REDIS_CLUSTER_NODES is set, on that Redis Cluster. Prints one row per target.
 */
async function main() {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent' });
  const dbs = createDatabases(config);
  const sku = `BENCH-CART-${Date.now().toString(36)}`;
  await upsertProduct(dbs.catalog, { sku, name: 'Bench item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 1_000_000);
  await dbs.close();
  const rounds = Number(process.env.BENCH_CART_ROUNDS ?? 1);
  const cluster = process.env.BENCH_REDIS_CLUSTER_NODES;
  for (let round = 1; round <= rounds; round++) {
    console.log(JSON.stringify({ round, redis: 'single node', ...(await measureCartOperations(sku, { REDIS_CLUSTER_NODES: '' })) }));
    if (cluster) console.log(JSON.stringify({ round, redis: `cluster ${cluster}`, ...(await measureCartOperations(sku, { REDIS_CLUSTER_NODES: cluster })) }));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
