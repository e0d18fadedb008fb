import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema/index.ts',
  out: './db/migrations',
  schemaFilter: ['catalog', 'inventory', 'cart', 'orders', 'payment', 'local_gateway', 'notification', 'support', 'customer'],
  dbCredentials: { url: process.env.DATABASE_URL ?? 'postgres://orderly@127.0.0.1:55432/orderly' },
});
