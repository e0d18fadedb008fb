import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { eq } from 'drizzle-orm';
import { createActivities, type ActivityDeps } from '../../activities';
import { checkouts, orders } from '../../db/schema/order';
import { createLogger } from '../../logger';
import { FAILURE_CONVERTER_PATH, payloadDataConverter } from '../../temporal/codec';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { buildActivityDeps } from '../../workers/deps';
import { WORKER_TUNING } from '../../workers/worker';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Under load (a flash sale, 2,000 buyers at concurrency 100) Temporal answered a few
 * update-with-start calls "Update-with-Start could not be executed … unexpected workflow task
 * failure": the run's first workflow task failed, the server gave up the update's wait — yet the
 * run had started, its task was retried and the order was placed. POST /checkouts re-threw the
 * error: a 500 for a placed, paid order. Reproduced with the real dev server: a test worker whose
 * workflow interceptor fails the first workflow task of the checkout
 * (fixtures/fail-first-workflow-task.ts). Now the indefinite error is answered from durable state:
 * the run that holds this checkout is found and attached to (the same update id), so the buyer
 * gets the placed order (201), or a 202 to poll, never a 500.
 */
describe('update-with-start answered with an error although the run started', () => {
  let stack: Stack;
  let worker: Worker;
  let running: Promise<void>;
  let connection: NativeConnection;
  let deps: ActivityDeps;

  beforeAll(async () => {
    stack = await startStack({ env: { CHECKOUT_WAIT_MS: '20000' } });
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      workflowInterceptorModules: [require.resolve('./fixtures/fail-first-workflow-task')],
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    connection = await NativeConnection.connect({ address: stack.config.temporal.address });
    deps = { ...buildActivityDeps({ config: stack.config, logger: createLogger('silent'), dbs: stack.dbs, redis: stack.redis, temporal: stack.temporal }), search: stack.search };
    worker = await Worker.create({
      connection,
      namespace: stack.config.temporal.namespace,
      taskQueue: stack.config.temporal.taskQueue,
      workflowBundle: { code },
      activities: createActivities(deps),
      dataConverter: payloadDataConverter(stack.config.privacy.payloadKeys),
      ...WORKER_TUNING,
    });
    running = worker.run();
  }, 180_000);
  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    deps?.mailer.close();
    await connection?.close();
    await stack?.close();
  });

  it('the first workflow task fails: 201 with the placed order, not a 500', async () => {
    const sku = await createProduct(stack.dbs, { priceAmount: 1200, onHand: 5 });
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const request = { headers: { 'Idempotency-Key': 'first-task-fails' }, body: { cartId, email: 'first-task-fails@example.com', paymentToken: 'tok_visa' } };

    const answer = await stack.http('POST', '/checkouts', request);
    expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status: 201, code: undefined });
    expect(answer.body).toMatchObject({ status: 'placed', orderId: expect.any(String) });

    // the failure mode happened: the run's first workflow task failed, and its retry placed the order
    const history = await stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)).fetchHistory();
    expect(history.events?.some((e) => e.workflowTaskFailedEventAttributes)).toBe(true);
    const [row] = await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, answer.body.checkoutId as string));
    expect(row?.status).toBe('placed');
    expect(await stack.dbs.order.select().from(orders).where(eq(orders.id, answer.body.orderId as string))).toHaveLength(1);

    // a replay answers the same
    const replay = await stack.http('POST', '/checkouts', request);
    expect({ status: replay.status, orderId: replay.body.orderId }).toEqual({ status: 201, orderId: answer.body.orderId });
  }, 120_000);
});
