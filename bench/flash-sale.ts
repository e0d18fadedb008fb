/**
 * The flash sale: `units` of one SKU, `buyers` carts of one unit each, checked out at
 * `concurrency` through the real API and worker. Exactly `units` must be placed and none
 * oversold; the losers' latency is the figure (issue 18: p50 < 200 ms, p99 < 1 s).
 *
 * Part of `npm run bench` (bench/checkout.ts calls measureFlashSale) and runnable alone:
 * `BENCH_ONLY=flash npm run bench`, or against running services
 * `node --import tsx bench/flash-sale.ts` (writes bench/results/flash-latest.json), in two
 * layouts: API and worker in one process, and the worker in a process of its own (FLASH_LAYOUT).
 * FLASH_UNITS, FLASH_BUYERS, FLASH_CONCURRENCY change the shape.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { eq, inArray } from 'drizzle-orm';
import type { Databases } from '../db/client';
import { stock } from '../db/schema/inventory';
import { checkouts } from '../db/schema/order';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { checkoutWorkflowId } from '../temporal/workflow-ids';
import { pct, runLevel } from './harness';
import { startInProcessStack, type Post } from './in-process-stack';
import { startWorkerProcess } from './worker-process';
import { soldOutReadings } from '../usecases/sold-out';


const ms = (xs: number[]) => ({ count: xs.length, p50ms: +pct(xs, 50).toFixed(0), p99ms: +pct(xs, 99).toFixed(0), maxms: +Math.max(0, ...xs).toFixed(0) });

/**
 * Where a losing workflow's time went, from its history's event times: waiting for its first
 * workflow task, the task that claims, prices and holds (local activities), and what ran
 * between the refused hold and the update's answer (compensation), then after the answer.
 */
async function loserTimeline(temporal: Client, cartId: string) {
  const history = await temporal.workflow.getHandle(checkoutWorkflowId(cartId)).fetchHistory();
  const at = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) =>
    Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const events = history.events ?? [];
  const t0 = at(events[0] ?? {});
  const first = (pred: (e: (typeof events)[number]) => boolean) => {
    const e = events.find(pred);
    return e ? at(e) - t0 : NaN;
  };
  const taskStarted = first((e) => !!e.workflowTaskStartedEventAttributes);
  const taskCompleted = first((e) => !!e.workflowTaskCompletedEventAttributes);
  const answered = first((e) => !!e.workflowExecutionUpdateCompletedEventAttributes);
  const closed = at(events[events.length - 1] ?? {}) - t0;
  const activities = events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');
  return {
    firstTaskWaitMs: taskStarted,
    claimPriceHoldMs: taskCompleted - taskStarted,
    holdToAnswerMs: answered - taskCompleted,
    answerToCloseMs: closed - answered,
    activitiesBeforeClose: activities,
    // local activities recorded (claim, freeze, hold; on this build the refusal's settle and fence too)
    localActivities: events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
    workflowTasks: events.filter((e) => !!e.workflowTaskCompletedEventAttributes).length,
    // the unseen-void child started before the answer (one more workflow-task round trip)
    childStarted: events.some((e) => !!e.startChildWorkflowExecutionInitiatedEventAttributes),
  };
}

export async function measureFlashSale(h: { post: Post; dbs: Databases; temporal: Client; run: string }, shape = { units: 100, buyers: 2000, concurrency: 100 }) {
  const hot = `FLASH-${h.run}`;
  await upsertProduct(h.dbs.catalog, { sku: hot, name: 'Flash sale item', priceAmount: 500, currency: 'USD' });
  await setOnHand(h.dbs.inventory, hot, shape.units);
  // carts are made before the clock starts
  const buyers: string[] = [];
  await runLevel(50, shape.buyers, async () => {
    const cart = await h.post('/carts', {});
    await h.post(`/carts/${cart.body.id}/lines/${hot}`, { quantity: 1 });
    buyers.push(cart.body.id as string);
  });
  const answers: { i: number; status: number; ms: number; startedAt: number; checkoutId?: string }[] = [];
  const errors: string[] = [];
  const flashStart = performance.now();
  await runLevel(shape.concurrency, buyers.length, async (i) => {
    const t = performance.now();
    const res = await h.post('/checkouts', { cartId: buyers[i], email: 'flash@example.com', paymentToken: 'tok_visa' }, { 'Idempotency-Key': `flash-${i}` });
    const took = performance.now() - t;
    // 202: not decided within CHECKOUT_WAIT_MS (30 s): counted apart, settled below; a 5xx
    // (e.g. Temporal refusing an update-with-start whose workflow task failed on an overloaded
    // machine) is counted and its workflow settled too, so one does not lose the whole run
    if (res.status >= 500) errors.push(`${res.status} ${JSON.stringify(res.body.error ?? {})}`);
    else if (res.status !== 201 && res.status !== 409 && res.status !== 202) throw new Error(`flash checkout answered ${res.status}: ${JSON.stringify(res.body)}`);
    answers.push({ i, status: res.status, ms: took, startedAt: t - flashStart, checkoutId: res.body.error?.details?.checkoutId });
  });
  const seconds = (performance.now() - flashStart) / 1000;
  const won = answers.filter((a) => a.status === 201);
  const lost = answers.filter((a) => a.status === 409);
  // a loser refused before any workflow has a checkout row without a run
  const rows = await h.dbs.order
    .select({ checkoutId: checkouts.checkoutId, runId: checkouts.runId, createdAt: checkouts.createdAt, updatedAt: checkouts.updatedAt })
    .from(checkouts)
    .where(inArray(checkouts.checkoutId, lost.map((a) => a.checkoutId ?? '')));
  const ran = new Set(rows.filter((r) => r.runId !== null).map((r) => r.checkoutId));
  // refused by the admission hold: opened pending, failed at once without a run
  const admitted = new Set(rows.filter((r) => r.runId === null && r.updatedAt.getTime() > r.createdAt.getTime()).map((r) => r.checkoutId));
  const precheckLosers = lost.filter((a) => a.checkoutId && !ran.has(a.checkoutId) && !admitted.has(a.checkoutId));
  const admissionLosers = lost.filter((a) => a.checkoutId && admitted.has(a.checkoutId));
  const workflowLosers = lost.filter((a) => a.checkoutId && ran.has(a.checkoutId));
  const pending = answers.filter((a) => a.status === 202 || a.status >= 500);
  // every winner's workflow runs on after its answer (capture, stock committed): wait, then count
  const waitFor = [...won, ...pending];
  const settled: { status: string }[] = [];
  // a 202 whose checkout then failed is a loser who waited the whole CHECKOUT_WAIT_MS without an answer
  const pendingLost: typeof answers = [];
  await runLevel(20, waitFor.length, async (k) => {
    const a = waitFor[k] as (typeof answers)[number];
    // a 5xx's checkout may have no workflow at all: not placed
    const outcome = await h.temporal.workflow
      .getHandle(checkoutWorkflowId(buyers[a.i] as string))
      .result()
      .catch((err: unknown) => {
        if (a.status >= 500) return { status: 'no outcome' };
        throw err;
      });
    settled.push(outcome);
    if (a.status !== 201 && outcome.status !== 'placed') pendingLost.push(a);
  });
  const [after] = await h.dbs.inventory.select().from(stock).where(eq(stock.sku, hot));
  const timelines: Awaited<ReturnType<typeof loserTimeline>>[] = [];
  for (const a of workflowLosers.slice(0, 30)) timelines.push(await loserTimeline(h.temporal, buyers[a.i] as string));
  const median = (k: 'firstTaskWaitMs' | 'claimPriceHoldMs' | 'holdToAnswerMs' | 'answerToCloseMs') => +pct(timelines.map((t) => t[k]), 50).toFixed(0);
  return {
    ...shape,
    placed: settled.filter((o) => o.status === 'placed').length,
    outOfStock: lost.length,
    // answered 202 after the 30 s wait (then placed or refused: counted in placed above when placed)
    unansweredIn30s: pending.filter((a) => a.status === 202).length,
    // 5xx answers (then settled above as placed or lost)
    serverErrors: errors.length,
    serverErrorCodes: [...new Set(errors)],
    oversold: Math.max(0, (after?.sold ?? 0) - shape.units),
    stockAfter: after ? { onHand: after.onHand, reserved: after.reserved, sold: after.sold } : undefined,
    seconds: +seconds.toFixed(1),
    placedLatency: ms(won.map((a) => a.ms)),
    // every loser, the 202s that then failed included (their time is the 202's: a lower bound)
    losersLatency: ms([...lost, ...pendingLost].map((a) => a.ms)),
    unansweredLosers: pendingLost.length,
    // the losers refused by the sold-out pre-check (no workflow) and those whose hold refused them
    precheckLosers: ms(precheckLosers.map((a) => a.ms)),
    // passed the pre-check, refused by the admission hold: no run started (usecases/admission-hold.ts)
    admissionLosers: ms(admissionLosers.map((a) => a.ms)),
    workflowLosers: ms(workflowLosers.map((a) => a.ms)),
    lastWinnerStartedAtMs: +Math.max(0, ...won.map((a) => a.startedAt)).toFixed(0),
    workflowLoserMedians: timelines.length
      ? {
          sampled: timelines.length,
          firstTaskWaitMs: median('firstTaskWaitMs'),
          claimPriceHoldMs: median('claimPriceHoldMs'),
          holdToAnswerMs: median('holdToAnswerMs'),
          answerToCloseMs: median('answerToCloseMs'),
          activities: timelines[0]?.activitiesBeforeClose,
          localActivities: timelines[0]?.localActivities,
          workflowTasks: +pct(timelines.map((t) => t.workflowTasks), 50).toFixed(0),
          childStarts: timelines.filter((t) => t.childStarted).length,
        }
      : undefined,
    // kept for the older readers of latest.json
    placedP99ms: +pct(won.map((a) => a.ms), 99).toFixed(0),
    outOfStockP50ms: +pct([...lost, ...pendingLost].map((a) => a.ms), 50).toFixed(0),
    outOfStockP99ms: +pct([...lost, ...pendingLost].map((a) => a.ms), 99).toFixed(0),
  };
}

const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

/**
 * Both layouts, one after the other in this run: `single` is API and worker in this process
 * (one event loop: the losers' answers queue behind the winners' workflow and activity work);
 * `separate` is the API here and the worker in a process of its own (bench/worker-process.ts),
 * as `npm run dev` runs them. FLASH_LAYOUT=single or separate runs one.
 */
async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const shape = {
    units: Number(process.env.FLASH_UNITS ?? 100),
    buyers: Number(process.env.FLASH_BUYERS ?? 2000),
    concurrency: Number(process.env.FLASH_CONCURRENCY ?? 100),
  };
  const layouts = (process.env.FLASH_LAYOUT ?? 'single,separate').split(',').map((l) => l.trim());
  const results: Record<string, unknown> = {};
  let address = '';
  for (const layout of layouts) {
    if (layout !== 'single' && layout !== 'separate') throw new Error(`FLASH_LAYOUT: single or separate, not ${layout}`);
    const run = `${Date.now().toString(36)}-${layout}`;
    const taskQueue = `bench-flash-${run}`;
    const { config, dbs, client, post, stop } = await startInProcessStack(taskQueue, { worker: layout === 'single' });
    address = config.temporal.address;
    const worker = layout === 'separate' ? await startWorkerProcess(taskQueue) : undefined;
    const loadBefore = load();
    const sale = await measureFlashSale({ post, dbs, temporal: client, run }, shape).catch(async (err: unknown) => {
      await worker?.stop();
      throw err;
    });
    results[layout] = {
      layout: layout === 'single' ? 'API and worker in one process' : 'API in this process, worker in its own (bench/worker-process.ts)',
      loadBefore,
      loadAfter: load(),
      soldOutCacheMs: config.checkout.soldOutCacheMs ?? 0,
      // stock reads the API's pre-check sent during the run (the rest were answered by a fresh sold-out reading)
      precheckStockReads: soldOutReadings(dbs, config.checkout.soldOutCacheMs)?.reads,
      ...sale,
    };
    await worker?.stop();
    await stop();
  }
  const result = {
    at: new Date().toISOString(),
    command: 'BENCH_ONLY=flash npm run bench (or: node --import tsx bench/flash-sale.ts with the services; FLASH_LAYOUT=single|separate)',
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${load()}, node ${process.version}, Temporal at ${address}`,
    // kept for the older readers of latest.json: the single-process layout
    flashSale: results.single ?? results.separate,
    flashSaleSeparateWorker: results.separate,
  };
  console.log(JSON.stringify(result, null, 2));
  fs.writeFileSync(path.join(__dirname, 'results', 'flash-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
