import { randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import fc from 'fast-check';
import { holds, stock } from '../../db/schema/inventory';
import { commitHold, holdStock, releaseHold } from '../../db/stores/holds';
import { createProduct, startStack, type Stack } from '../helpers/stack';

/**
 * Stock holds under every interleaving of their actors, on real PostgreSQL: the API's admission
 * hold (`unclaimed`: replace, renew), the run's hold step (a repeat), a compensation's release,
 * the sweep (a hold put past its deadline, then closed as the sweep closes it), the stock
 * commit, and another buyer — two or three at a time, concurrently, in random orders. After every step
 * the books must balance: what `stock.reserved` says is exactly what the `held` rows hold,
 * `sold` exactly what the committed rows hold, and no unit is made or lost. (Reviews r29b and
 * r29c found two ways the first versions did not: concurrent replacements reserving twice, and
 * renewals racing the sweep.)
 */
describe('stock holds: the books balance under concurrent admissions, repeats, releases, sweeps and commits', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({});
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  type Op =
    | { kind: 'admit'; quantity: number }
    | { kind: 'runHold'; quantity: number }
    | { kind: 'release' }
    | { kind: 'expire' }
    | { kind: 'commit' }
    | { kind: 'otherHold'; quantity: number }
    | { kind: 'otherRelease' };

  const quantity = fc.integer({ min: 1, max: 2 });
  // (admissions weigh most: duplicates of one request are the concurrent case that matters)
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: quantity.map((q) => ({ kind: 'admit' as const, quantity: q })) },
    { weight: 2, arbitrary: quantity.map((q) => ({ kind: 'runHold' as const, quantity: q })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'release' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'expire' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'commit' as const }) },
    { weight: 1, arbitrary: quantity.map((q) => ({ kind: 'otherHold' as const, quantity: q })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'otherRelease' as const }) },
  );

  it('reserved = the held rows, sold = the committed rows, on hand + sold constant', async () => {
    const property = fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.array(fc.array(op, { minLength: 2, maxLength: 3 }), { minLength: 1, maxLength: 10 }), async (units, steps) => {
      const db = stack.dbs.inventory;
      const sku = await createProduct(stack.dbs, { onHand: units });
      const checkout = `model-${randomBytes(6).toString('hex')}`;
      let others = 0;
      const run = async (o: Op): Promise<unknown> => {
        const lines = (q: number) => [{ sku, quantity: q }];
        switch (o.kind) {
          case 'admit':
            return holdStock(db, checkout, lines(o.quantity), 60, { unclaimed: true });
          case 'runHold':
            return holdStock(db, checkout, lines(o.quantity), 60);
          case 'release':
            return releaseHold(db, checkout);
          case 'expire':
            // the hold's deadline passes, and the sweep closes it (only if still past it then)
            await db.update(holds).set({ expiresAt: sql`now() - interval '1 second'` }).where(and(eq(holds.holdId, checkout), eq(holds.status, 'held')));
            return releaseHold(db, checkout, 'expired', true);
          case 'commit':
            return commitHold(db, checkout);
          case 'otherHold':
            others += 1;
            return holdStock(db, `${checkout}-other-${others}`, lines(o.quantity), 60);
          case 'otherRelease':
            return others > 0 ? releaseHold(db, `${checkout}-other-${others}`) : undefined;
        }
      };
      for (const together of steps) {
        // errors are answers here (HoldMismatch, HoldReleased, a commit of a released hold): the books must balance anyway
        await Promise.allSettled(together.map(run));
        const [level] = await db.select().from(stock).where(eq(stock.sku, sku));
        const rows = await db.select().from(holds).where(eq(holds.sku, sku));
        const sum = (status: string) => rows.filter((h) => h.status === status).reduce((n, h) => n + h.quantity, 0);
        expect({ reserved: level?.reserved, sold: level?.sold, onHandPlusSold: (level?.onHand ?? 0) + (level?.sold ?? 0) }).toEqual({
          reserved: sum('held'),
          sold: sum('committed'),
          onHandPlusSold: units,
        });
      }
    });
    await fc.assert(property, { numRuns: Number(process.env.HOLDS_MODEL_RUNS ?? 60), interruptAfterTimeLimit: 90_000 });
  }, 150_000);
});
