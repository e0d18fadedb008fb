/**
 * Cost curves, recovery part (bench/scale.ts): what open abandoned-cart recovery workflows cost
 * the Temporal server built from Go (TEMPORAL_SERVER=cluster) in its PostgreSQL databases. N
 * carts with an address are written to Redis in the cart store's layout, N cartRecoveryWorkflow
 * runs are started directly with the Temporal client (one per cart, the input of
 * workflows/messages.ts CartRecoveryInput; not through cart writes, whose way of starting them
 * is changing), a worker runs each to its first timer (the address check, then a sleep until the
 * first reminder), and every table of the `temporal` and `temporal_visibility` databases is
 * counted (rows, pg_total_relation_size) before and after. The figures per 100k carts are the
 * measured difference scaled linearly from N: an extrapolation, said so in the result.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Pool } from 'pg';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { randomId } from '../db/ids';
import { createRedis } from '../db/redis';
import { cartKey, type StoredCart } from '../db/stores/cart';
import { createLogger } from '../logger';
import { temporalClientOptions } from '../temporal/client';
import { cartRecoveryWorkflowId } from '../temporal/workflow-ids';
import { startWorkflow } from '../temporal/workflows';
import { cartRecoveryStatusQuery, type CartRecoveryInput } from '../workflows/messages';
import { buildActivityDeps } from '../workers/deps';
import { createWorker } from '../workers/worker';
import { runLevel } from './harness';
import type { ScaleMode } from './scale-mode';

type TableSizes = Map<string, { rows: number; bytes: number }>;

/** Every table of one database: exact row count and size on disk (table, indexes, TOAST). */
async function tableSizes(pool: Pool): Promise<TableSizes> {
  const { rows: tables } = await pool.query<{ name: string; bytes: string }>(
    `select c.relname as name, pg_total_relation_size(c.oid)::bigint as bytes
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname = 'public'`,
  );
  const out: TableSizes = new Map();
  for (const t of tables) {
    const { rows } = await pool.query<{ n: string }>(`select count(*) as n from "${t.name}"`);
    out.set(t.name, { rows: Number(rows[0]?.n ?? 0), bytes: Number(t.bytes) });
  }
  return out;
}

function databaseUrl(base: string, db: string): string {
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function measureRecovery(mode: ScaleMode, bundle: { code: string }) {
  const run = Date.now().toString(36);
  const taskQueue = `scale-recovery-${run}`;
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: taskQueue });
  if (process.env.TEMPORAL_SERVER !== 'cluster') throw new Error('the recovery part measures the Temporal server built from Go on PostgreSQL: run it with TEMPORAL_SERVER=cluster (scripts/bench-scale.sh does)');
  const logger = createLogger('silent');
  const dbs = createDatabases({ ...config, databasePoolSize: 10 });
  const redis = createRedis(config);
  const pools = { temporal: new Pool({ connectionString: databaseUrl(config.databaseUrls.cart, 'temporal'), max: 2 }), visibility: new Pool({ connectionString: databaseUrl(config.databaseUrls.cart, 'temporal_visibility'), max: 2 }) };
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const deps = buildActivityDeps({ config, logger, dbs, redis, temporal: client });
  const worker = await createWorker({ connection: native, config, deps, taskQueue, workflowBundle: bundle });
  const running = worker.run();
  const n = mode.recoveryWorkflows;
  try {
    // carts with an address the reminders may go to (ownedByAccount below): the runs stay open
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < n; i += 1_000) {
      const p = redis.pipeline();
      for (let k = i; k < Math.min(n, i + 1_000); k++) {
        const iso = new Date(now).toISOString();
        const cart: StoredCart = { id: randomId('cart'), currency: 'USD', email: `shopper${k}@example.com`, lines: [{ sku: 'SCALE-000000001', quantity: 1 }], version: 2, createdAt: iso, updatedAt: iso };
        ids.push(cart.id);
        p.set(cartKey(cart.id), JSON.stringify(cart), 'EX', config.cart.ttlSeconds);
      }
      await p.exec();
    }
    // settle what the stack did before (schema set-up, namespace registration) so it is not counted
    await new Promise((r) => setTimeout(r, 2_000));
    const before = { temporal: await tableSizes(pools.temporal), visibility: await tableSizes(pools.visibility) };

    const { offsetsMinutes, discountCode } = config.recovery;
    /** Starts the runs of carts [from, to) and waits until each sleeps until its first reminder. */
    const startBatch = async (from: number, to: number) => {
      const started = await runLevel(20, to - from, async (i) => {
        const cartId = ids[from + i] as string;
        const input: CartRecoveryInput = { cartId, version: 2, updatedAt: now, offsetsMinutes, ...(discountCode ? { discountCode } : {}), ownedByAccount: true };
        await startWorkflow(client, 'cartRecoveryWorkflow', {
          workflowId: cartRecoveryWorkflowId(cartId),
          taskQueue,
          args: [input],
          staticSummary: `Cart reminders for cart ${cartId}`,
          staticDetails: `**Cart:** ${cartId}\n**Reminders:** ${offsetsMinutes.map((m) => `${m} min`).join(', ')} after the cart's last change`,
        });
      });
      // ask a sample (every 50th and the last 20 started) until each answers with its next reminder time
      const sample = ids.slice(from, to).filter((_, i) => i % 50 === 0 || i >= to - from - 20);
      const deadline = Date.now() + 10 * 60_000;
      for (;;) {
        const views = await Promise.all(sample.map((id) => client.workflow.getHandle(cartRecoveryWorkflowId(id)).query(cartRecoveryStatusQuery).catch(() => undefined)));
        const asleep = views.filter((v) => v?.nextAt !== undefined).length;
        if (asleep === sample.length) break;
        if (Date.now() > deadline) throw new Error(`only ${asleep} of ${sample.length} sampled recovery workflows reached their first timer in 10 minutes`);
        await new Promise((r) => setTimeout(r, 1_000));
      }
      // the server's task queues drain (transfer and visibility tasks are deleted once done)
      await new Promise((r) => setTimeout(r, 3_000));
      return started;
    };
    // two halves: the second half's difference is the marginal cost (no fixed overhead of empty tables)
    const half = Math.floor(n / 2);
    const started = await startBatch(0, half);
    const mid = { temporal: await tableSizes(pools.temporal), visibility: await tableSizes(pools.visibility) };
    await startBatch(half, n);
    const after = { temporal: await tableSizes(pools.temporal), visibility: await tableSizes(pools.visibility) };

    const diff = (b: typeof before, a: typeof after) => {
      const out: { database: string; table: string; rows: number; bytes: number }[] = [];
      for (const [database, x0, x1] of [
        ['temporal', b.temporal, a.temporal],
        ['temporal_visibility', b.visibility, a.visibility],
      ] as const) {
        for (const [table, x] of x1) {
          const y = x0.get(table) ?? { rows: 0, bytes: 0 };
          if (x.rows !== y.rows || x.bytes !== y.bytes) out.push({ database, table, rows: x.rows - y.rows, bytes: x.bytes - y.bytes });
        }
      }
      return out.sort((p, q) => q.bytes - p.bytes);
    };
    const perTable = diff(before, after);
    const marginal = diff(mid, after);
    const sum = (ts: { rows: number; bytes: number }[]) => ts.reduce((acc, t) => ({ rows: acc.rows + t.rows, bytes: acc.bytes + t.bytes }), { rows: 0, bytes: 0 });
    const { rows, bytes } = sum(perTable);
    const secondHalf = n - half;
    const m = sum(marginal);
    const scale = 100_000 / secondHalf;
    const result = {
      workflows: n,
      startedPerSecond: +started.perSecond.toFixed(0),
      startP50ms: +started.p50.toFixed(1),
      startP99ms: +started.p99.toFixed(1),
      rowsPerWorkflow: +(rows / n).toFixed(2),
      bytesPerWorkflow: Math.round(bytes / n),
      marginalRowsPerWorkflow: +(m.rows / secondHalf).toFixed(2),
      marginalBytesPerWorkflow: Math.round(m.bytes / secondHalf),
      per100kCarts: {
        extrapolated: `the second ${secondHalf} of ${n} open workflows (the first ${half} were already there), scaled linearly ×${+scale.toFixed(2)}`,
        rows: Math.round(m.rows * scale),
        mib: +((m.bytes * scale) / 2 ** 20).toFixed(1),
        byTable: marginal.map((t) => ({ ...t, rows: Math.round(t.rows * scale), mib: +((t.bytes * scale) / 2 ** 20).toFixed(2) })),
      },
      perTable,
      shape: `cartRecoveryWorkflow started with the Temporal client (one per cart, reminders at ${offsetsMinutes.join('/')} min), each run to its first timer (address check activity, then the sleep) on the Temporal server built from Go on PostgreSQL; rows are exact counts, bytes are pg_total_relation_size (tables, indexes, TOAST) of the temporal and temporal_visibility databases, after minus before`,
    };
    process.stdout.write(`[scale] recovery: ${n} workflows, ${result.rowsPerWorkflow} rows and ${result.bytesPerWorkflow} bytes each on average, ${result.marginalRowsPerWorkflow} rows and ${result.marginalBytesPerWorkflow} bytes each for the second half\n`);
    return result;
  } finally {
    worker.shutdown();
    await running;
    deps.mailer.close();
    await native.close();
    await client.connection.close();
    redis.disconnect();
    await pools.temporal.end();
    await pools.visibility.end();
    await dbs.close();
  }
}
