import fc from 'fast-check';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { startRestartableWorker, type RestartableWorker } from '../helpers/worker';
import { checkInvariants, settle } from './invariants';
import { cartLines, commandArbitraries, createCart, PRODUCTS, type Model, type Real } from './model';

/**
 * Model-based test: fast-check generates sequences of commands — carts and cart writes,
 * checkouts (fresh or repeated Idempotency-Keys, concurrent duplicates, in the background),
 * support refunds (lines with restock, amounts, several at once), support retry/cancel of a
 * parked order, Temporal cancels, gateway faults (500, refused, reply lost) and worker
 * restarts — and runs them against the real API, PostgreSQL, Redis, the Temporal dev server
 * and the local gateway. After each run it waits until every checkout is terminal or parked,
 * then checks the invariants from the stores and the gateway ledger (./invariants.ts).
 *
 * Small in `npm test` (MODEL_RUNS=5 runs of ≤ MODEL_COMMANDS=12 commands, time-boxed by
 * MODEL_TIME_LIMIT_MS); long in `npm run faults` (MODEL_RUNS=100). MODEL_SEED replays a run.
 */
const RUNS = Number(process.env.MODEL_RUNS ?? 5);
const COMMANDS = Number(process.env.MODEL_COMMANDS ?? 12);
const LONG = RUNS > 10;
/** The whole property (runs and shrinking); a failure found before it runs out is reported with the smallest case reached. */
const TIME_LIMIT_MS = Number(process.env.MODEL_TIME_LIMIT_MS ?? (LONG ? RUNS * 60_000 : 50_000));
/**
 * How long a run's checkouts may take to become terminal or parked. A worker restarted in the
 * middle of a step is noticed only by a timeout — the workflow task's (10 s) for a local step,
 * the finishing activity's heartbeat (30 s) for the last one — so the bound is above their sum
 * with retries; a settled run returns as soon as it is settled.
 */
const SETTLE_MS = Number(process.env.MODEL_SETTLE_MS ?? 60_000);
const SEED = process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);

describe('checkout model (fast-check commands against the real stack)', () => {
  let stack: Stack;
  let worker: RestartableWorker;

  beforeAll(async () => {
    stack = await startStack({ env: { CHECKOUT_WAIT_MS: '1500' } });
    worker = await startRestartableWorker(stack);
  });
  afterAll(async () => {
    await worker?.close();
    await stack?.close();
  });

  it(`${RUNS} random interleavings of ≤ ${COMMANDS} commands keep money and stock right`, async () => {
    let runs = 0;
    let lastFailure: { log: string[]; violations: string[] } | undefined;
    const property = fc.asyncProperty(fc.array(cartLines, { minLength: 1, maxLength: 3 }), fc.commands(commandArbitraries(), { maxCommands: COMMANDS, size: 'max' }), async (opening, cmds) => {
      runs += 1;
      worker.gateway?.setFaults(null);
      const products = [];
      for (const p of PRODUCTS) products.push({ sku: await createProduct(stack.dbs, { priceAmount: p.price, onHand: p.received }), price: p.price, received: p.received });
      const real: Real = {
        stack,
        worker,
        products,
        carts: [],
        inFlight: [],
        serverErrors: [],
        log: [],
        seq: 0,
        admin: { Authorization: `Bearer ${stack.config.adminApiToken}` },
      };
      for (const lines of opening) await createCart(real, lines);
      await fc.asyncModelRun(() => ({ model: { carts: opening.length } satisfies Model, real }), cmds);
      await Promise.allSettled(real.inFlight);
      worker.gateway?.setFaults(null);
      const moving = await settle(real, SETTLE_MS);
      const violations = [
        ...moving.map((m) => `not terminal or parked after ${SETTLE_MS} ms: ${m}`),
        ...real.serverErrors.map((e) => `5xx: ${e}`),
        ...(await checkInvariants(real)),
      ];
      if (process.env.MODEL_VERBOSE) console.log(`run ${runs}: ${JSON.stringify(opening)} then ${cmds.toString()}\n  ${real.log.join('\n  ')}\n  violations: ${violations.length}`);
      if (violations.length > 0) {
        lastFailure = { log: real.log, violations };
        throw new Error(`${violations.length} invariant violation(s):\n  ${violations.join('\n  ')}\nwhat the commands did:\n  ${real.log.join('\n  ')}`);
      }
    });

    const started = Date.now();
    console.log(`checkout model: seed ${SEED}, ${RUNS} runs of ≤ ${COMMANDS} commands, time limit ${TIME_LIMIT_MS} ms (MODEL_SEED=${SEED} replays it)`);
    try {
      await fc.assert(property, {
        numRuns: RUNS,
        seed: SEED,
        // MODEL_PATH (with MODEL_SEED) replays one reported counterexample directly
        ...(process.env.MODEL_PATH ? { path: process.env.MODEL_PATH } : {}),
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        markInterruptAsFailure: false,
      });
    } catch (err) {
      // fast-check's report: the seed, the replay path and the shrunk command sequence
      console.error(`checkout model FAILED after ${runs} runs in ${Math.round((Date.now() - started) / 1000)} s\n${err instanceof Error ? err.message : String(err)}`);
      if (lastFailure) console.error(`last failing run:\n  ${lastFailure.violations.join('\n  ')}`);
      throw err;
    }
    console.log(`checkout model: ${runs} runs passed in ${Math.round((Date.now() - started) / 1000)} s`);
  }, TIME_LIMIT_MS + 120_000);
});
