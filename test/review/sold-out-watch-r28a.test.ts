import type { ChildProcess } from 'node:child_process';
import { eq } from 'drizzle-orm';
import { checkouts } from '../../db/schema/order';
import { CartStore } from '../../db/stores/cart';
import { holdStock } from '../../db/stores/holds';
import { checkoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../helpers/eventually';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { checkoutRunEnded, uniqueTaskQueue } from '../helpers/temporal';
import { startWorkerProcess } from '../helpers/worker-process';

/**
 * Reviewer r28a, commit ae6ab0f (the sold-out watch of POST /checkouts).
 *
 * The watch fences a checkout whose run has not claimed it yet, unlocks the cart and answers
 * 409 out_of_stock. But the update-with-start it gives up on has normally reached the server
 * already (the watch only fires while the request waits for the run's first workflow task), so
 * the fenced checkout's run exists, queued. Nobody but the watch ever gives the cart's lock
 * back for that checkout (the run that meets the fenced row in claimCheckout answers and
 * closes without unlocking), and the cart's workflow id is now taken by a run of a checkout the
 * customer was told is over.
 */
describe('r28a: the sold-out watch', () => {
  const workers: ChildProcess[] = [];
  const stacks: Stack[] = [];
  afterEach(() => jest.restoreAllMocks());
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    for (const s of stacks) await s.close();
  });

  async function stackOn(queue: string, waitMs: number): Promise<Stack> {
    const s = await startStack({ env: { TEMPORAL_TASK_QUEUE: queue, CHECKOUT_WAIT_MS: String(waitMs) } });
    stacks.push(s);
    return s;
  }
  async function cartWith(stack: Stack, lines: Record<string, number>): Promise<string> {
    const cartId = (await stack.http('POST', '/carts', { body: {} })).body.id as string;
    for (const [sku, quantity] of Object.entries(lines)) {
      expect((await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity } })).status).toBe(200);
    }
    return cartId;
  }
  const row = async (stack: Stack, checkoutId: string) => (await stack.dbs.order.select().from(checkouts).where(eq(checkouts.checkoutId, checkoutId)))[0];

  it("the customer told 409 out_of_stock removes the sold-out line and checks out again: that checkout meets the fenced checkout's queued run (USE_EXISTING) and is refused checkout_in_progress", async () => {
    const queue = uniqueTaskQueue('r28a-followup');
    const stack = await stackOn(queue, 30_000);
    const scarce = await createProduct(stack.dbs, { priceAmount: 700, onHand: 1 });
    const plenty = await createProduct(stack.dbs, { priceAmount: 300, onHand: 50 });
    const cartId = await cartWith(stack, { [scarce]: 1, [plenty]: 1 });

    // a flash sale: the worker is busy elsewhere (here: none polls yet); the request waits for its run
    const first = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'r28a-first' }, body: { cartId, email: 'late@example.com', paymentToken: 'tok_visa' } });
    await new Promise((r) => setTimeout(r, 500));
    expect((await holdStock(stack.dbs.inventory, `r28a-winner-${scarce}`, [{ sku: scarce, quantity: 1 }], 600)).status).toBe('held');
    const refused = await first;
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('out_of_stock');
    const fencedId = refused.body.error.details.checkoutId as string;

    // the customer does what the 409 invites: drops the sold-out line and checks out the rest
    expect((await stack.http('DELETE', `/carts/${cartId}/lines/${scarce}`)).status).toBe(200);
    const second = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'r28a-second' }, body: { cartId, email: 'late@example.com', paymentToken: 'tok_visa' } });
    // the queue drains
    await new Promise((r) => setTimeout(r, 1_000));
    workers.push(startWorkerProcess(queue));
    const answer = await second;

    // what the customer gets for a cart of in-stock lines, after being told the first one is over
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 201, body: expect.objectContaining({ status: 'placed' }) });
    expect(await row(stack, fencedId)).toMatchObject({ status: 'failed', runId: null, failure: { code: 'out_of_stock' } });
  }, 120_000);

  it('a Redis error on the watch\'s unlock (after its fence committed): the watch then believes a run claimed the row, the request answers 202 pending for a checkout already failed, and the cart stays locked by it (STOCK_HOLD_TTL_SECONDS: 15 min)', async () => {
    const queue = uniqueTaskQueue('r28a-unlock-blip');
    const stack = await stackOn(queue, 3_000);
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 1 });
    const cartId = await cartWith(stack, { [sku]: 1 });

    // one Redis blip on the unlock (ioredis gives up after maxRetriesPerRequest)
    const unlock = CartStore.prototype.unlock;
    let failed = false;
    jest.spyOn(CartStore.prototype, 'unlock').mockImplementation(async function (this: CartStore, id: string, checkoutId: string) {
      if (!failed) {
        failed = true;
        throw new Error('Reached the max retries per request limit (which is 2)');
      }
      return unlock.call(this, id, checkoutId);
    });

    const answering = stack.http('POST', '/checkouts', { headers: { 'Idempotency-Key': 'r28a-blip' }, body: { cartId, email: 'late@example.com', paymentToken: 'tok_visa' } });
    await new Promise((r) => setTimeout(r, 500));
    expect((await holdStock(stack.dbs.inventory, `r28a-winner-${sku}`, [{ sku, quantity: 1 }], 600)).status).toBe('held');
    const answer = await answering;
    expect(failed).toBe(true);
    const checkoutId = (answer.body.checkoutId ?? answer.body.error?.details?.checkoutId) as string;
    // the row was fenced failed out_of_stock at the first look
    expect(await row(stack, checkoutId)).toMatchObject({ status: 'failed', runId: null, failure: { code: 'out_of_stock' } });

    // the run its start left queued was terminated by the API, or (not yet on the server then) starts, meets the failed row in claimCheckout, answers and closes
    workers.push(startWorkerProcess(queue));
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId));
    const result = await checkoutRunEnded(handle);
    if (result !== 'terminated') expect(result).toMatchObject({ status: 'failed', failure: { code: 'out_of_stock' } });

    // the customer was told what the row says, and the cart is theirs again
    const problems: string[] = [];
    if (answer.status !== 409) problems.push(`answered ${answer.status} ${JSON.stringify(answer.body)} while the row was failed out_of_stock`);
    const edit = await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 0 } });
    if (edit.status !== 200) problems.push(`cart still locked after the run closed: ${edit.status} ${JSON.stringify(edit.body)}`);
    expect(problems).toEqual([]);
  }, 120_000);

  it("a duplicate of the request (same Idempotency-Key) whose LOCK lands just after the watch's unlock: both answered 409 out_of_stock, the cart left locked by the failed checkout", async () => {
    const queue = uniqueTaskQueue('r28a-dup-lock');
    const stack = await stackOn(queue, 20_000);
    const sku = await createProduct(stack.dbs, { priceAmount: 700, onHand: 1 });
    const cartId = await cartWith(stack, { [sku]: 1 });
    const request = { headers: { 'Idempotency-Key': 'r28a-dup' }, body: { cartId, email: 'dup@example.com', paymentToken: 'tok_visa' } };

    // the duplicate's LOCK is slow (Redis latency): it reaches Redis after the watch's fence and unlock
    const lock = CartStore.prototype.lock;
    let calls = 0;
    jest.spyOn(CartStore.prototype, 'lock').mockImplementation(async function (this: CartStore, id: string, checkoutId: string, untilMs: number, owner?: string) {
      calls += 1;
      if (calls === 2) {
        await eventually(async () => {
          const r = await row(stack, checkoutId);
          const cart = await this.get(id);
          return r?.status === 'failed' && cart && cart.checkoutId === undefined ? true : undefined;
        }, 10_000, 'the watch fenced and unlocked');
      }
      return lock.call(this, id, checkoutId, untilMs, owner);
    });

    const original = stack.http('POST', '/checkouts', request);
    await new Promise((r) => setTimeout(r, 200));
    const duplicate = stack.http('POST', '/checkouts', request);
    await new Promise((r) => setTimeout(r, 300));
    expect((await holdStock(stack.dbs.inventory, `r28a-winner-${sku}`, [{ sku, quantity: 1 }], 600)).status).toBe('held');
    const a = await original;
    expect(a.status).toBe(409);
    const checkoutId = a.body.error.details.checkoutId as string;
    // the queue drains: the run meets the failed row and closes
    workers.push(startWorkerProcess(queue));
    const b = await duplicate;
    expect(b.status).toBe(409);
    await eventually(async () => {
      const d = await stack.temporal.workflow.getHandle(checkoutWorkflowId(cartId)).describe().catch(() => undefined);
      return d && d.status.name !== 'RUNNING' ? true : undefined;
    }, 30_000, 'the run closed');
    expect(await row(stack, checkoutId)).toMatchObject({ status: 'failed', failure: { code: 'out_of_stock' } });

    const edit = await stack.http('PUT', `/carts/${cartId}/lines/${sku}`, { body: { quantity: 0 } });
    expect({ status: edit.status, body: edit.body }).toMatchObject({ status: 200 });
  }, 120_000);
});
