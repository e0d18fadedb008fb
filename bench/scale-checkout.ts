/**
 * Cost curves, checkout part (bench/scale.ts): checkout throughput against the number of API
 * processes (api/server.ts) and worker processes (workers/main.ts), 1 and 2 of each, on the
 * Temporal server the stack runs (the Go-built one on PostgreSQL under scripts/bench-scale.sh).
 * The processes and calls are bench/servers.ts's. Two APIs and one worker start first: 1×1 and
 * 2×1 are measured, then a second worker joins and 1×2 and 2×2 are measured; the load is spread
 * over the APIs in use, closed loop at one concurrency.
 */
import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { loadConfig } from '../config';
import { temporalClientOptions } from '../temporal/client';
import { createDatabases } from '../db/client';
import { runLevel } from './harness';
import { caller, carts, checkout, freePort, notPlaced, product, spawnApi, spawnWorker, stopChildren, untilHealthy } from './servers';
import type { Call } from './fault-scenarios';
import type { ScaleMode } from './scale-mode';

export interface CheckoutPoint {
  apis: number;
  workers: number;
  requests: number;
  concurrency: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  notPlaced: string;
}

export async function measureCheckoutProcesses(mode: ScaleMode) {
  const run = Date.now().toString(36);
  const env = { ...process.env, ORDERLY_MODE: 'test', LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: `scale-checkout-${run}`, CHECKOUT_WAIT_MS: '30000' } as Record<string, string>;
  const config = loadConfig(env);
  const dbs = createDatabases(config);
  const client = new Client(temporalClientOptions(config, await Connection.connect({ address: config.temporal.address })));
  /** Waits until `n` worker processes poll the task queue for workflow tasks. */
  const untilPollers = async (n: number) => {
    for (let t = 0; ; t++) {
      const res = await client.workflowService.describeTaskQueue({
        namespace: config.temporal.namespace,
        taskQueue: { name: config.temporal.taskQueue, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      if (new Set((res.pollers ?? []).map((p) => p.identity)).size >= n) return;
      if (t > 300) throw new Error(`${n} workers did not poll ${config.temporal.taskQueue} in 5 minutes`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  };
  const children: ChildProcess[] = [];
  const points: CheckoutPoint[] = [];
  try {
    const ports = [await freePort(), await freePort()];
    for (const port of ports) children.push(spawnApi(env, port));
    children.push(spawnWorker(env));
    for (const p of ports) await untilHealthy(p);
    await untilPollers(1);
    const calls = ports.map((p) => caller(`http://127.0.0.1:${p}`));
    const sku = `SCALE-CO-${run}`;
    await product(dbs, sku, 10_000_000);
    const measure = async (apis: number, workers: number) => {
      // warm-up through every API in use, untimed (the new worker's cache, connections)
      const warm = await carts((calls[0] as Call), sku, 10);
      await Promise.all(warm.map((c, i) => checkout((calls[i % apis] as Call), c, `warm-${apis}-${workers}-${i}`, new Map())));
      const ids = await carts((calls[0] as Call), sku, mode.checkoutRequests);
      const statuses = new Map<number, number>();
      const r = await runLevel(mode.checkoutConcurrency, mode.checkoutRequests, async (i) => void (await checkout((calls[i % apis] as Call), (ids[i] as string), `co-${apis}-${workers}-${i}`, statuses)));
      const point = { apis, workers, requests: mode.checkoutRequests, concurrency: mode.checkoutConcurrency, perSecond: +r.perSecond.toFixed(1), p50ms: Math.round(r.p50), p99ms: Math.round(r.p99), notPlaced: JSON.stringify(notPlaced(statuses)) };
      process.stdout.write(`[scale] checkout: ${JSON.stringify(point)}\n`);
      points.push(point);
    };
    await measure(1, 1);
    await measure(2, 1);
    children.push(spawnWorker(env));
    await untilPollers(2);
    await measure(1, 2);
    await measure(2, 2);
  } finally {
    await stopChildren(children);
    await client.connection.close();
    await dbs.close();
  }
  return {
    points,
    shape: `POST /checkouts through the real API processes, ${mode.checkoutRequests} checkouts per point at concurrency ${mode.checkoutConcurrency} (carts made before the clock starts), spread round-robin over the APIs in use; Temporal server: ${process.env.TEMPORAL_SERVER ?? 'dev'}; all processes on one machine`,
  };
}
