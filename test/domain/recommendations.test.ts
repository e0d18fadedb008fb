import { coPurchases, decayedScore, purchaseWeight, scoreClock, skusByCategory } from '../../domain/recommendations';

const DAY = 86_400_000;
const build = { epochMs: Date.UTC(2026, 0, 1), halfLifeDays: 30 };

describe('recommendation scores with time decay', () => {
  it('an order counts 1 when new, 1/2 one half-life later, 1/4 two half-lives later — whatever the epoch', () => {
    for (const epochMs of [build.epochMs, build.epochMs - 400 * DAY, build.epochMs + 90 * DAY]) {
      const b = { ...build, epochMs };
      const at = build.epochMs;
      expect(decayedScore(b, purchaseWeight(b, at), at)).toBeCloseTo(1, 12);
      expect(decayedScore(b, purchaseWeight(b, at), at + 30 * DAY)).toBeCloseTo(0.5, 12);
      expect(decayedScore(b, purchaseWeight(b, at), at + 60 * DAY)).toBeCloseTo(0.25, 12);
    }
  });

  it('stored weights keep their order as time passes: a newer order outranks an older one at any read time', () => {
    const older = purchaseWeight(build, build.epochMs - 10 * DAY);
    const newer = purchaseWeight(build, build.epochMs + 5 * DAY);
    expect(newer).toBeGreaterThan(older);
    for (const now of [build.epochMs, build.epochMs + 365 * DAY]) expect(decayedScore(build, newer, now)).toBeGreaterThan(decayedScore(build, older, now));
  });

  it('scores are read at the start of the hour (a stable ETag)', () => {
    expect(scoreClock(Date.UTC(2026, 5, 1, 13, 59, 59))).toBe(Date.UTC(2026, 5, 1, 13));
  });

  it('pairs are every other distinct sku of the order; categories group the skus', () => {
    const purchase = { orderId: 'o', atMs: 0, lines: [{ sku: 'b', category: 'x' }, { sku: 'a', category: 'x' }, { sku: 'c', category: null }, { sku: 'a', category: 'x' }] };
    expect(coPurchases(purchase)).toEqual([
      { sku: 'a', partners: ['b', 'c'] },
      { sku: 'b', partners: ['a', 'c'] },
      { sku: 'c', partners: ['a', 'b'] },
    ]);
    expect(coPurchases({ ...purchase, lines: [{ sku: 'a', category: null }] })).toEqual([]);
    expect([...skusByCategory(purchase)]).toEqual([
      ['x', ['a', 'b']],
      [null, ['c']],
    ]);
  });
});
