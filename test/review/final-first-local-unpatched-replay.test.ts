import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { eq, sql } from 'drizzle-orm';
import { stock } from '../../db/schema/inventory';
import { checkouts } from '../../db/schema/order';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { FAILURE_CONVERTER_PATH } from '../../temporal/codec';
import { createLogger } from '../../logger';
import { buildActivityDeps } from '../../workers/deps';
import { createWorker } from '../../workers/worker';
import { eventually } from '../helpers/eventually';
import { testDataConverter, workflowBundle } from '../helpers/temporal';
import { createProduct, startStack, type HttpResult, type Stack } from '../helpers/stack';

/**
 * Review r2c. 46a935b turned the final-first steps of a refused loser (failOrder,
 * recordCheckoutFailure) from regular activities (`undo`) into local ones (`closing` =
 * localUndo) under the SAME patches (checkout-final-before-release and
 * checkout-local-refusal-compensation) — no new patch. The build before it (c5f365e, the merge of
 * final-first and local-refusal, both deployed) records `ActivityTaskScheduled failOrder` for every flash-sale
 * loser; a run in flight across the deploy (its failOrder or recordCheckoutFailure activity
 * scheduled, or retrying through a database blip: UNTIL_DONE retries without a limit) replays on
 * the new build with a local activity where its history has a scheduled activity: a
 * nondeterminism error, the workflow task fails on every attempt, the loser's update never
 * answers, its row stays pending and its cart locked. The recorded history of the previous
 * build (…-before-final-first.json) is from cd3d917, before final-first was merged, so the
 * replay test never saw a history of the merged build (d603782/c5f365e).
 */
const OLD = 'c5f365e';
const ROOT = path.resolve(__dirname, '../..');
const OLD_DIR = path.join(ROOT, '.review-builds', OLD);

function extractOldBuild(): void {
  if (fs.existsSync(path.join(OLD_DIR, 'workflows', 'index.ts'))) return;
  fs.mkdirSync(OLD_DIR, { recursive: true });
  execSync(`git archive ${OLD} activities db domain temporal workers workflows config.ts logger.ts telemetry usecases | tar -x -C ${OLD_DIR}`, { cwd: ROOT });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(OLD_DIR, 'node_modules'));
}

describe('a flash-sale loser recorded by the build before 46a935b replays on the current build', () => {
  let stack: Stack;
  let connection: NativeConnection;
  beforeAll(async () => {
    extractOldBuild();
    stack = await startStack({ worker: false, env: { CHECKOUT_WAIT_MS: '30000' } });
    connection = await NativeConnection.connect({ address: stack.config.temporal.address });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await connection?.close();
  });

  it('replays without a determinism error', async () => {
    const silent = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(OLD_DIR, 'workflows', 'index.ts'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: silent });
    const deps = { ...buildActivityDeps({ config: stack.config, logger: createLogger('silent'), dbs: stack.dbs, redis: stack.redis, temporal: stack.temporal }), search: stack.search };
    const oldWorker: Worker = await createWorker({ connection, config: stack.config, deps, workflowBundle: { code } });
    const running = oldWorker.run();
    let history;
    try {
      const sku = await createProduct(stack.dbs, { priceAmount: 500, onHand: 1 });
      const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
      expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
      let answer: Promise<HttpResult> | undefined;
      // the pre-check sees the unit, the hold does not (as test/api/checkout-sold-out.test.ts races it)
      await stack.dbs.inventory.transaction(async (tx) => {
        await tx.update(stock).set({ reserved: sql`${stock.reserved} + 1` }).where(eq(stock.sku, sku));
        answer = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'old-loser' }, body: { cartId, email: 'l@example.com', paymentToken: 'tok_visa' } });
        await eventually(async () => ((await stack.dbs.order.select().from(checkouts).where(eq(checkouts.cartId, cartId)))[0]?.runId ? true : undefined), 30_000, 'the claim');
        await new Promise((r) => setTimeout(r, 500));
      });
      const refused = await (answer as Promise<HttpResult>);
      expect([refused.status, refused.body.error?.code]).toEqual([409, 'out_of_stock']);
      const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
      await handle.result();
      history = await handle.fetchHistory();
      const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
      // the previous build scheduled the final-first steps as activities
      expect(scheduled).toEqual(['failOrder', 'recordCheckoutFailure']);
      await stack.dbs.inventory.update(stock).set({ reserved: sql`${stock.reserved} - 1` }).where(eq(stock.sku, sku));
    } finally {
      oldWorker.shutdown();
      await running;
      deps.mailer.close();
    }
    await expect(Worker.runReplayHistory({ workflowBundle: workflowBundle(), dataConverter: testDataConverter() }, history, 'old-loser')).resolves.toBeUndefined();
  }, 180_000);
});
