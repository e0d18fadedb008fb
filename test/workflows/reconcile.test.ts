import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { GatewayPayment } from '../../activities/gateways/payment-gateway';
import type { LedgerView, PaymentFacts, ReconcileCheckout, ReconcileRefund } from '../../activities/reconcile';
import { decideCheckout, decideRefund, reconcileWorkflow, type CheckoutFacts, type CheckoutPlan } from '../../workflows/reconcile';
import { testDataConverter, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';

const dataConverter = testDataConverter();

const gw = (p: Partial<GatewayPayment> = {}): GatewayPayment => ({ ref: 'lpi_x', currency: 'USD', authorized: 1000, captured: 0, refunded: 0, voided: false, ...p });
const ledger = (status: string, p: Partial<LedgerView> = {}): LedgerView => ({
  gatewayRef: 'lpi_x',
  status,
  currency: 'USD',
  authorized: 1000,
  captured: 0,
  refunded: 0,
  refundPending: 0,
  ...p,
});
const checkout = (p: Partial<ReconcileCheckout> = {}): ReconcileCheckout => ({
  checkoutId: 'chk_x',
  workflowId: 'checkout-cart_x',
  runId: 'run-x',
  status: 'failed',
  orderId: null,
  orderStatus: null,
  orderCanPark: false,
  cursor: { createdAt: '2025-01-01 00:00:00+00', checkoutId: 'chk_x' },
  ...p,
});
const withOrder = (status: string, canPark: boolean, p: Partial<ReconcileCheckout> = {}) =>
  checkout({ status: 'placed', orderId: 'ord_x', orderStatus: status, orderCanPark: canPark, ...p });

interface Row {
  name: string;
  facts: Omit<CheckoutFacts, 'payment' | 'holds'> & { payment?: Partial<PaymentFacts>; holds?: string[] };
  /** What the plan does, in the order the workflow does it. */
  expect: string[];
}

const CAPTURED = gw({ captured: 1000 });
const rows: Row[] = [
  {
    name: 'a running workflow is left alone, whatever the stores say',
    facts: { checkout: checkout({ status: 'pending' }), running: true, payment: { gateway: CAPTURED }, holds: ['held'] },
    expect: [],
  },
  {
    name: 'no order, authorized and not voided (terminated after authorize): void, release the hold, fail the checkout',
    facts: { checkout: checkout({ status: 'pending' }), running: false, payment: { gateway: gw() }, holds: ['held'] },
    expect: ['void', 'release', 'failCheckout'],
  },
  {
    name: 'no order, captured and not refunded: refund',
    facts: { checkout: checkout(), running: false, payment: { ledger: ledger('authorized'), gateway: CAPTURED } },
    expect: ['refund'],
  },
  {
    name: 'order failed, captured (reply lost) and a hold still held: refund, release, nothing parked',
    facts: { checkout: withOrder('failed', false), running: false, payment: { ledger: ledger('authorized'), gateway: CAPTURED }, holds: ['held', 'held'] },
    expect: ['refund', 'release'],
  },
  {
    name: 'order cancelled, authorized: void',
    facts: { checkout: withOrder('cancelled', false), running: false, payment: { ledger: ledger('authorized'), gateway: gw() }, holds: ['released'] },
    expect: ['void'],
  },
  {
    name: 'order failed, ledger says voided while the gateway captured: refund (which also corrects the ledger)',
    facts: { checkout: withOrder('failed', false), running: false, payment: { ledger: ledger('voided'), gateway: CAPTURED } },
    expect: ['refund'],
  },
  {
    name: 'order failed, gateway partially refunded: refund the rest',
    facts: { checkout: withOrder('failed', false), running: false, payment: { ledger: ledger('captured', { captured: 1000 }), gateway: gw({ captured: 1000, refunded: 300 }) } },
    expect: ['refund'],
  },
  {
    name: 'no order, never authorized, a hold left held: release, fail the checkout',
    facts: { checkout: checkout({ status: 'pending' }), running: false, payment: {}, holds: ['held'] },
    expect: ['release', 'failCheckout'],
  },
  {
    name: 'no order, pending, money already returned (terminated mid-compensation): fail the checkout only',
    facts: { checkout: checkout({ status: 'pending' }), running: false, payment: { ledger: ledger('voided'), gateway: gw({ voided: true }) }, holds: ['released'] },
    expect: ['failCheckout'],
  },
  {
    name: 'checkout failed, voided at the gateway, ledger still says authorized: correct the ledger',
    facts: { checkout: checkout(), running: false, payment: { ledger: ledger('authorized'), gateway: gw({ voided: true }) } },
    expect: ['correctLedger'],
  },
  {
    name: 'no order, authorized at the gateway, no ledger row (authorize reply lost): void',
    facts: { checkout: checkout(), running: false, payment: { ledger: null, gateway: gw() } },
    expect: ['void'],
  },
  {
    name: 'order paid but the gateway shows no capture: park (needs_attention), never guess',
    facts: { checkout: withOrder('paid', true), running: false, payment: { ledger: ledger('captured', { captured: 1000 }), gateway: gw() }, holds: ['committed'] },
    expect: ['correctLedger', 'park:transition'],
  },
  {
    name: 'order refunded but the gateway shows no capture: its status cannot move, so a note for support',
    facts: { checkout: withOrder('refunded', false), running: false, payment: { ledger: ledger('authorized'), gateway: gw() } },
    expect: ['park:note'],
  },
  {
    name: 'order fulfilled with no payment at the gateway at all: note for support',
    facts: { checkout: withOrder('fulfilled', false), running: false, payment: { ledger: ledger('captured', { captured: 1000 }), gateway: null } },
    expect: ['park:note'],
  },
  {
    name: 'order placed and no workflow (terminated after the 201): park, correct the ledger, keep the hold, refund nothing',
    facts: { checkout: withOrder('placed', true), running: false, payment: { ledger: ledger('authorized'), gateway: CAPTURED }, holds: ['held'] },
    expect: ['correctLedger', 'park:transition'],
  },
  {
    name: 'order already needs_attention: counted as parked, nothing else',
    facts: { checkout: withOrder('needs_attention', false), running: false, payment: { ledger: ledger('authorized'), gateway: gw() }, holds: ['held'] },
    expect: ['park:already'],
  },
  {
    name: 'order paid and captured, ledger says voided: correct the ledger, refund nothing',
    facts: { checkout: withOrder('paid', true), running: false, payment: { ledger: ledger('voided'), gateway: CAPTURED }, holds: ['committed'] },
    expect: ['correctLedger'],
  },
  {
    name: 'order paid, ledger equals the gateway: nothing',
    facts: { checkout: withOrder('paid', true), running: false, payment: { ledger: ledger('captured', { captured: 1000 }), gateway: CAPTURED }, holds: ['committed'] },
    expect: [],
  },
  {
    name: 'order partially refunded with a refund in flight (pending amount): the ledger is the refund’s to settle',
    facts: {
      checkout: withOrder('partially_refunded', false),
      running: false,
      payment: { ledger: ledger('captured', { captured: 1000, refundPending: 400 }), gateway: gw({ captured: 1000, refunded: 400 }) },
    },
    expect: [],
  },
  {
    name: 'order failed, our ledger has a payment the gateway does not know: note for support',
    facts: { checkout: withOrder('failed', false), running: false, payment: { ledger: ledger('authorized'), gateway: null } },
    expect: ['park:note'],
  },
];

const factsOf = (r: Row): CheckoutFacts => ({
  ...r.facts,
  payment: { ledger: null, gateway: null, ...r.facts.payment },
  holds: r.facts.holds ?? [],
});

function steps(plan: CheckoutPlan): string[] {
  const out: string[] = [];
  if (plan.returnMoney) out.push(plan.returnMoney);
  else if (plan.correctLedger) out.push('correctLedger');
  if (plan.releaseHold) out.push('release');
  if (plan.failCheckout) out.push('failCheckout');
  if (plan.park) out.push(`park:${plan.park.how}`);
  return out;
}

describe('reconciliation decisions (pure)', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    expect(steps(decideCheckout(factsOf(row)))).toEqual(row.expect);
  });

  it.each([
    ['a refund whose workflow runs is left alone', { running: true, refundRef: 'lre_1' }, 'leave'],
    ['a refund the gateway made (reply lost, workflow ended) is completed', { running: false, refundRef: 'lre_1' }, 'complete'],
    ['a refund the gateway never made (workflow ended) is failed', { running: false, refundRef: null }, 'fail'],
  ] as const)('%s', (_name, facts, plan) => {
    expect(decideRefund(facts)).toBe(plan);
  });
});

describe('reconcileWorkflow (real Temporal server, activities recorded)', () => {
  let connection: NativeConnection;
  let client: Client;
  beforeAll(async () => {
    connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
    client = new Client({ connection: await Connection.connect({ address: process.env.TEMPORAL_ADDRESS }), dataConverter });
  });
  afterAll(async () => {
    await client?.connection.close();
    await connection?.close();
  });

  /** Runs the workflow against the given checkouts and refunds; returns its summary and every repair call. */
  async function run(
    checkouts: CheckoutFacts[],
    refunds: { refund: ReconcileRefund; running: boolean; refundRef: string | null }[],
    input: { pageSize?: number; pagesPerRun?: number } = {},
    taken = new Set<string>(),
  ) {
    const calls: string[] = [];
    const byId = new Map(checkouts.map((f) => [f.checkout.checkoutId, f]));
    const runningByWorkflow = new Map<string, boolean>([
      ...checkouts.map((f) => [f.checkout.workflowId, f.running] as const),
      ...refunds.map((r) => [r.refund.workflowId, r.running] as const),
    ]);
    const record = (name: string) => async (req: { checkoutId?: string; refundId?: string; orderId?: string; reason?: string } | string) => {
      calls.push(`${name}:${typeof req === 'string' ? req : (req.checkoutId ?? req.refundId ?? req.orderId)}`);
    };
    const activities = {
      async listCheckoutsToReconcile(req: { after?: { checkoutId: string }; limit: number }) {
        const start = req.after ? checkouts.findIndex((f) => f.checkout.checkoutId === req.after?.checkoutId) + 1 : 0;
        return checkouts.slice(start, start + req.limit).map((f) => f.checkout);
      },
      async workflowsRunning(refs: { workflowId: string }[]) {
        return refs.map((r) => runningByWorkflow.get(r.workflowId) ?? false);
      },
      async paymentFacts(refs: { checkoutId: string }[]) {
        return Object.fromEntries(refs.map((r) => [r.checkoutId, byId.get(r.checkoutId)?.payment]));
      },
      async holdsOfCheckouts(ids: string[]) {
        return Object.fromEntries(ids.map((id) => [id, byId.get(id)?.holds ?? []]));
      },
      async voidPayment(req: { checkoutId: string }) {
        const g = byId.get(req.checkoutId)?.payment.gateway as GatewayPayment;
        const refund = g.captured > g.refunded;
        calls.push(`${refund ? 'refund' : 'void'}:${req.checkoutId}`);
        return { action: refund ? 'refunded' : 'voided', amount: refund ? g.captured - g.refunded : g.authorized, currency: g.currency };
      },
      async correctLedgerFromGateway(req: { checkoutId: string }) {
        calls.push(`correctLedger:${req.checkoutId}`);
        return { status: 'captured' };
      },
      releaseStock: record('release'),
      // a checkout in `taken` was claimed by a new run after the facts were read
      async abandonCheckout(req: { checkoutId: string }) {
        return { closed: !taken.has(req.checkoutId) };
      },
      recordCheckoutFailure: record('failCheckout'),
      markOrderNeedsAttention: record('park:transition'),
      async noteOrderEvent(req: { orderId: string; type: string; reason: string }) {
        calls.push(`${req.reason.startsWith('needs attention') ? 'park:note' : 'note'}:${req.orderId}`);
      },
      async listPendingRefunds() {
        return refunds.map((r) => r.refund);
      },
      async lookupRefundAtGateway(req: { refundId: string }) {
        return { refundRef: refunds.find((r) => r.refund.refundId === req.refundId)?.refundRef ?? null };
      },
      async completeLostRefund(req: { refundId: string }) {
        calls.push(`completeRefund:${req.refundId}`);
        return { fullyRefunded: true };
      },
      failLostRefund: record('failRefund'),
      async recordRefundOnOrder(req: { refundId: string }) {
        calls.push(`orderRefunded:${req.refundId}`);
        return { moved: true };
      },
    };
    const taskQueue = uniqueTaskQueue('reconcile-wf');
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: workflowBundle(), activities, dataConverter });
    const summary = await worker.runUntil(
      client.workflow.execute(reconcileWorkflow, { taskQueue, workflowId: `${taskQueue}-run`, args: [input] }),
    );
    return { summary, calls };
  }

  it('applies every row of the decision table, and settles refunds whose workflow ended by what the gateway says', async () => {
    const facts = rows.map((r, i) => {
      const f = factsOf(r);
      const checkoutId = `chk_${i}`;
      const orderId = f.checkout.orderId ? `ord_${i}` : null;
      return { ...f, checkout: { ...f.checkout, checkoutId, orderId, workflowId: `checkout-cart_${i}`, cursor: { createdAt: 'x', checkoutId } } };
    });
    const refund = (id: string): ReconcileRefund => ({ refundId: id, orderId: `ord_${id}`, checkoutId: 'chk', gatewayRef: 'lpi_x', amount: 500, currency: 'USD', workflowId: `refund-${id}` });
    const { summary, calls } = await run(facts, [
      { refund: refund('rfd_running'), running: true, refundRef: 'lre_1' },
      { refund: refund('rfd_made'), running: false, refundRef: 'lre_2' },
      { refund: refund('rfd_never'), running: false, refundRef: null },
    ]);

    // each checkout's repairs, in order, plus the order-history note when an order got a repair
    rows.forEach((row, i) => {
      const mine = calls.filter((c) => c.endsWith(`:chk_${i}`) || c.endsWith(`:ord_${i}`)).map((c) => c.split(':').slice(0, -1).join(':'));
      const repaired = row.expect.some((s) => ['void', 'refund', 'correctLedger', 'release'].includes(s));
      const expected = [...row.expect.filter((s) => s !== 'park:already')];
      if (repaired && facts[i]?.checkout.orderId) expected.splice(expected.findIndex((s) => s.startsWith('park')) === -1 ? expected.length : expected.findIndex((s) => s.startsWith('park')), 0, 'note');
      expect({ row: row.name, calls: mine }).toEqual({ row: row.name, calls: expected });
    });
    expect(calls.filter((c) => c.includes('rfd_'))).toEqual([
      'completeRefund:rfd_made',
      'orderRefunded:rfd_made',
      'note:ord_rfd_made',
      'failRefund:rfd_never',
      'note:ord_rfd_never',
    ]);

    const count = (step: string) => rows.filter((r) => r.expect.includes(step)).length;
    expect(summary).toMatchObject({
      inspected: rows.length + 3,
      repaired: {
        voided: count('void'),
        refunded: count('refund'),
        released: count('release'),
        ledgerCorrected: rows.filter((r) => r.expect.includes('correctLedger')).length,
        checkoutsFailed: count('failCheckout'),
        refundsSettled: 2,
      },
      parked: rows.filter((r) => r.expect.some((s) => s.startsWith('park'))).length,
      errors: 0,
      runs: 1,
    });
    expect(summary.parkedCheckouts.map((p) => p.checkoutId)).toEqual(
      rows.flatMap((r, i) => (r.expect.some((s) => s.startsWith('park')) ? [`chk_${i}`] : [])),
    );
  });

  it('pages through the window and continues as new after pagesPerRun pages, keeping the totals', async () => {
    const facts = Array.from({ length: 5 }, (_, i) => {
      const checkoutId = `chk_page_${i}`;
      return factsOf({
        name: '',
        facts: { checkout: checkout({ checkoutId, status: 'pending', workflowId: `checkout-p${i}`, cursor: { createdAt: 'x', checkoutId } }), running: false, payment: { gateway: gw() } },
        expect: [],
      });
    });
    const { summary, calls } = await run(facts, [], { pageSize: 2, pagesPerRun: 1 });
    expect(summary).toMatchObject({ inspected: 5, runs: 3, repaired: { voided: 5, checkoutsFailed: 5 } });
    expect(calls.filter((c) => c.startsWith('void:'))).toEqual(facts.map((f) => `void:${f.checkout.checkoutId}`));
  });

  it('a pending checkout that a new run took after the facts were read is left alone: no money returned, no hold released', async () => {
    const taken = factsOf({
      name: '',
      facts: { checkout: checkout({ checkoutId: 'chk_taken', status: 'pending', workflowId: 'checkout-taken', cursor: { createdAt: 'x', checkoutId: 'chk_taken' } }), running: false, payment: { gateway: gw() }, holds: ['held'] },
      expect: [],
    });
    const { summary, calls } = await run([taken], [], {}, new Set(['chk_taken']));
    expect(calls).toEqual([]);
    expect(summary.repaired).toMatchObject({ voided: 0, released: 0, checkoutsFailed: 0 });
  });
});
