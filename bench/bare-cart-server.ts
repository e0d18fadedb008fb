import express from 'express';
import { loadConfig } from '../config';
import { createRedis } from '../db/redis';
import { cartKey } from '../db/stores/cart';
import { runCartScript, SET_LINE } from '../db/stores/cart-scripts';

/**
 * The cart bench's baseline (bench/carts.ts): a bare Express route running the same Lua script
 * as `PUT /carts/:id/lines/:sku` on the same Redis, in a process of its own like the API —
 * nothing else (no catalog read, no backup write, no pricing, no middleware).
 */
const config = loadConfig();
const redis = createRedis(config, { maxRetriesPerRequest: 2 });
const acks = { replicas: config.cart.replicaAcks, waitMs: config.cart.replicaWaitMs };
const app = express();
app.use(express.json());
app.put('/carts/:cartId/lines/:sku', async (req, res) => {
  const now = new Date();
  const quantity = Number((req.body as { quantity?: unknown }).quantity);
  const args = [req.params.sku, String(quantity), String(config.cart.maxLines), String(config.cart.ttlSeconds), now.toISOString(), 'USD', String(now.getTime()), ''];
  const raw = await runCartScript(redis, SET_LINE, cartKey(req.params.cartId), args, config.cart.maxLines, acks);
  if (raw === null) res.status(404).json({ error: { code: 'not_found' } });
  else res.json(JSON.parse(raw));
});
app.get('/health', (_req, res) => {
  res.json({ ok: true });
});
const server = app.listen(config.port);
process.on('SIGTERM', () => {
  server.close(() => {
    redis.disconnect();
    process.exit(0);
  });
  server.closeIdleConnections();
});
