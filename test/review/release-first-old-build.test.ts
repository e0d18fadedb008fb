import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { eq, like } from 'drizzle-orm';
import type { LocalGateway } from '../../activities/gateways/local-gateway';
import { holds, stock } from '../../db/schema/inventory';
import { localGatewayOperations } from '../../db/schema/payment';
import { orders } from '../../db/schema/order';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { createLogger } from '../../logger';
import { buildActivityDeps } from '../../workers/deps';
import { createWorker } from '../../workers/worker';
import { eventually } from '../helpers/eventually';
import { workflowBundle } from '../helpers/temporal';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Review of 9da9b30 (release the stock before the void when no order was asked for).
 *
 * The safety argument for releasing first is: "a later run of this checkout finds its hold
 * released and stops" — but that guard lives in an *activity* (holdStock's HoldReleased), while
 * the new compensation order lives in the *workflow* behind patched(). patched() only protects
 * replay of one run; a NEW run of the same checkout id starts on whatever build the server
 * routes new workflows to. During the documented rollout (PINNED + set-ramping-version, a
 * rolling deploy without versioning, or a rollback of this build), run 1 can compensate on the
 * new build (stock given back, the void still waiting on the breaker, authorization live) and,
 * after an operator terminates it, the replayed request's run 2 can start on the previous build
 * (f94d271 here, the real code of the parent commit): its holdStock reports the released hold as
 * `held`, it re-uses the same authorize key (the gateway hands back the still-live
 * authorization), places the order and CAPTURES on stock nobody holds; its commitStock then
 * throws "stock hold ... was released" forever (charge, order, no stock).
 *
 * Before 9da9b30 the same interleaving was harmless: the void ran before the release, so an
 * operator terminating mid-void left the hold `held` (run 2 sold held stock).
 */
const OLD = 'f94d271';
const ROOT = path.resolve(__dirname, '../..');
const OLD_DIR = path.join(ROOT, '.review-builds', OLD);

function extractOldBuild(): void {
  if (fs.existsSync(path.join(OLD_DIR, 'activities', 'index.ts'))) return;
  fs.mkdirSync(OLD_DIR, { recursive: true });
  execSync(`git archive ${OLD} activities db domain temporal workers workflows config.ts logger.ts telemetry usecases | tar -x -C ${OLD_DIR}`, { cwd: ROOT });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(OLD_DIR, 'node_modules'));
}

describe('release-first compensation vs a new run on the previous build', () => {
  let stack: Stack;
  let connection: NativeConnection;
  const COOLDOWN_MS = 60_000;

  beforeAll(async () => {
    extractOldBuild();
    stack = await startStack({
      worker: false,
      env: { CHECKOUT_WAIT_MS: '2500', CIRCUIT_FAILURE_THRESHOLD: '1', CIRCUIT_WINDOW_MS: '30000', CIRCUIT_COOLDOWN_MS: String(COOLDOWN_MS) },
    });
    connection = await NativeConnection.connect({ address: stack.config.temporal.address });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await connection?.close();
  });

  it('run 1 (new build) terminated while its void waits, the replayed request runs on the previous build: nothing may be captured on the released stock', async () => {
    const logger = createLogger('silent');
    const newDeps = { ...buildActivityDeps({ config: stack.config, logger, dbs: stack.dbs, redis: stack.redis, temporal: stack.temporal }), search: stack.search };
    const gateway = newDeps.gateway as LocalGateway;
    const breaker = newDeps.breakers?.paymentGateway;
    if (!breaker) throw new Error('no breaker');
    await breaker.reset();

    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 1 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    const cartId = cart.body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);

    // run 1 on the new build: authorization lost at the gateway, breaker opens, stock released first
    const newWorker = await createWorker({ connection, config: stack.config, deps: newDeps, workflowBundle: workflowBundle() });
    const newRun = newWorker.run();
    gateway.setFaults({ mode: 'lost', count: 1, operations: ['authorize'] });
    const request = { headers: { 'Idempotency-Key': 'old-build-replay' }, body: { cartId, email: 'old-build@example.com', paymentToken: 'tok_visa' } };
    const res = await stack.http('POST', '/checkouts', request);
    expect(res.status).toBe(202);
    const checkoutId = res.body.checkoutId as string;
    await eventually(
      async () => {
        const rows = await stack.dbs.inventory.select().from(holds).where(eq(holds.holdId, checkoutId));
        return rows.length > 0 && rows.every((h) => h.status === 'released') ? true : undefined;
      },
      10_000,
      'the stock hold released while the void waits',
    );
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    await handle.terminate('operator: ended mid-compensation');
    newWorker.shutdown();
    await newRun;
    gateway.setFaults(null);
    await breaker.reset();

    // the previous build (the parent commit's real code) now gets new runs: ramp / rollback / rolling pods;
    // loaded by path at run time, so require (an import would bind this build's modules)
    /* eslint-disable @typescript-eslint/no-require-imports */
    const oldDeps = require(path.join(OLD_DIR, 'workers', 'deps')) as typeof import('../../workers/deps');
    const oldWorkerMod = require(path.join(OLD_DIR, 'workers', 'worker')) as typeof import('../../workers/worker');
    const oldCodec = require(path.join(OLD_DIR, 'temporal', 'codec')) as typeof import('../../temporal/codec');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const { code } = await bundleWorkflowCode({
      workflowsPath: path.join(OLD_DIR, 'workflows', 'index.ts'),
      failureConverterPath: oldCodec.FAILURE_CONVERTER_PATH,
      logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    const deps = { ...oldDeps.buildActivityDeps({ config: stack.config, logger, dbs: stack.dbs, redis: stack.redis, temporal: stack.temporal }), search: stack.search };
    const oldWorker: Worker = await oldWorkerMod.createWorker({ connection, config: stack.config, deps, workflowBundle: { code } });
    const oldRun = oldWorker.run();
    try {
      const again = await stack.http('POST', '/checkouts', request);
      // give the run time to reach its capture if it goes that way
      await new Promise((r) => setTimeout(r, 6_000));
      const ops = (await stack.dbs.payment.select().from(localGatewayOperations).where(like(localGatewayOperations.idempotencyKey, `%/${checkoutId}/%`))).map((o) => o.operation);
      const [level] = await stack.dbs.inventory.select().from(stock).where(eq(stock.sku, sku));
      const placed = await stack.dbs.order.select().from(orders).where(eq(orders.checkoutId, checkoutId));
      console.log('replay answered', again.status, JSON.stringify(again.body), 'gateway ops', ops, 'stock', level, 'orders', placed.map((o) => o.status));
      // the invariant: an authorization whose stock was given back is never captured
      expect(ops).not.toContain('capture');
      expect(again.status).not.toBe(201);
    } finally {
      await handle.terminate('test cleanup').catch(() => undefined);
      oldWorker.shutdown();
      await oldRun;
      deps.mailer.close();
      newDeps.mailer.close();
    }
  }, 180_000);
});
