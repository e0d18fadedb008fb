/**
 * The checkout-throughput part of `npm run bench` (bench/checkout.ts): checkouts through
 * `POST /checkouts` at concurrency 1, 10 and 50, beside bare workflows of the same shape run
 * in the same run on the same server:
 *   baseline           update-with-start, 5 no-op activities before the answer and 5 after, all regular;
 *   local baseline     the same with the 5 before the answer local (the like-for-like ceiling of
 *                      the checkout before `checkout-local-steps-after-capture`);
 *   same-shape baseline the 5 before the answer local and 1 regular after it: the checkout's shape
 *                      since `checkout-capture-and-finish` (the capture and the rest as one
 *                      activity; 2 regular from `checkout-finish-in-one-activity` until then),
 *                      its like-for-like ceiling.
 * Run alone (the API and a worker in this process, throughput only):
 *   ORDERLY_DATA_DIR=$(mktemp -d) node --import file://$PWD/node_modules/tsx/dist/loader.mjs bench/checkout-throughput.ts
 * (BENCH_ROUNDS=n repeats the levels n times, printing each round).
 */
import { Client, WithStartWorkflowOperation, WorkflowUpdateStage } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { upsertProduct } from '../db/stores/catalog';
import { setOnHand } from '../db/stores/inventory';
import { runLevel } from './harness';
import { startInProcessStack, type Post } from './in-process-stack';

// Activities before the checkout answers (claim, price, hold, authorize, create order) and after
// (capture, commit stock, mark paid, clear cart, email) in the older baselines; the checkout has
// run the steps after the capture as one activity since `checkout-finish-in-one-activity`, and the
// capture with them since `checkout-capture-and-finish`.
export const BEFORE = 5;
export const AFTER = 5;
export const AFTER_NOW = 1;
export const LEVELS = [
  { concurrency: 1, requests: 30 },
  { concurrency: 10, requests: 150 },
  { concurrency: 50, requests: 300 },
];
export const THROUGHPUT_SHAPE =
  `checkout: ${BEFORE} local activities before the answer, ${AFTER_NOW} regular after it (the capture, commit stock, mark paid, recommendations, clear cart and email as one activity: checkout-capture-and-finish); ` +
  `baseline: ${BEFORE} + ${AFTER} no-op activities, all regular, update-with-start; local baseline: the ${BEFORE} before the answer local; ` +
  `same-shape baseline: ${BEFORE} local + ${AFTER_NOW} regular (the checkout's shape)`;


export async function measureCheckoutThroughput(ctx: { client: Client; post: Post; sku: string; run: string; taskQueue: string; levels?: typeof LEVELS }) {
  const { client, post, sku, run, taskQueue } = ctx;
  const rows: Record<string, unknown>[] = [];
  for (const { concurrency, requests } of ctx.levels ?? LEVELS) {
    const bareBaseline = (name: string, localBefore: boolean, localAfter: boolean, after = AFTER) =>
      runLevel(concurrency, requests, async (i) => {
        const id = `baseline-${run}-${name}-${concurrency}-${i}`;
        const start = new WithStartWorkflowOperation('baselineWorkflow', {
          workflowId: id,
          taskQueue,
          args: [BEFORE, after, localBefore, localAfter],
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        // an overloaded server may refuse an update-with-start (FAILED_PRECONDITION): asked again, as a client would
        for (let attempt = 1; ; attempt++) {
          try {
            const handle = await client.workflow.startUpdateWithStart('baselineDone', {
              args: [id],
              waitForStage: WorkflowUpdateStage.ACCEPTED,
              startWorkflowOperation: attempt === 1 ? start : new WithStartWorkflowOperation('baselineWorkflow', { workflowId: id, taskQueue, args: [BEFORE, after, localBefore, localAfter], workflowIdConflictPolicy: 'USE_EXISTING' }),
            });
            await handle.result();
            return;
          } catch (err) {
            if (attempt >= 3) throw err;
          }
        }
      });
    const baseline = await bareBaseline('remote', false, false);
    const localBaseline = await bareBaseline('local', true, false);
    const sameShapeBaseline = await bareBaseline('same-shape', true, false, AFTER_NOW);
    // carts are made before the clock starts: the checkout is what is measured
    const carts: string[] = [];
    for (let i = 0; i < requests; i++) {
      const cart = await post('/carts', {});
      await post(`/carts/${cart.body.id}/lines/${sku}`, { quantity: 1 });
      carts.push(cart.body.id as string);
    }
    const checkout = await runLevel(concurrency, requests, async (i) => {
      const res = await post('/checkouts', { cartId: carts[i], email: 'bench@example.com', paymentToken: 'tok_visa' }, { 'Idempotency-Key': `bench-${run}-${concurrency}-${i}` });
      if (res.status !== 201) throw new Error(`checkout answered ${res.status}: ${JSON.stringify(res.body)}`);
    });
    rows.push({
      concurrency,
      requests,
      checkoutPerSecond: +checkout.perSecond.toFixed(1),
      checkoutP50ms: +checkout.p50.toFixed(0),
      checkoutP99ms: +checkout.p99.toFixed(0),
      baselinePerSecond: +baseline.perSecond.toFixed(1),
      baselineP50ms: +baseline.p50.toFixed(0),
      baselineP99ms: +baseline.p99.toFixed(0),
      throughputRatio: +(checkout.perSecond / baseline.perSecond).toFixed(2),
      p50Ratio: +(checkout.p50 / baseline.p50).toFixed(2),
      localBaselinePerSecond: +localBaseline.perSecond.toFixed(1),
      localBaselineP50ms: +localBaseline.p50.toFixed(0),
      ratioVsLocalBaseline: +(checkout.perSecond / localBaseline.perSecond).toFixed(2),
      p50RatioVsLocalBaseline: +(checkout.p50 / localBaseline.p50).toFixed(2),
      sameShapeBaselinePerSecond: +sameShapeBaseline.perSecond.toFixed(1),
      sameShapeBaselineP50ms: +sameShapeBaseline.p50.toFixed(0),
      ratioVsSameShapeBaseline: +(checkout.perSecond / sameShapeBaseline.perSecond).toFixed(2),
      p50RatioVsSameShapeBaseline: +(checkout.p50 / sameShapeBaseline.p50).toFixed(2),
    });
  }
  return rows;
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const taskQueue = `bench-throughput-${Date.now().toString(36)}`;
  const { dbs, client, post, stop } = await startInProcessStack(taskQueue);
  const run = Date.now().toString(36);
  const sku = `BENCH-${run}`;
  await upsertProduct(dbs.catalog, { sku, name: 'Bench item', priceAmount: 1000, currency: 'USD' });
  await setOnHand(dbs.inventory, sku, 1_000_000);
  console.log(THROUGHPUT_SHAPE);
  for (let round = 0; round < Number(process.env.BENCH_ROUNDS ?? 1); round++) {
    console.table(await measureCheckoutThroughput({ client, post, sku, run: `${run}-${round}`, taskQueue }));
  }
  await stop();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
