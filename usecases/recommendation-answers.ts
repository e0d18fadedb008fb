import type { Databases } from '../db/client';
import { productStatesSince, type ProductState } from '../db/stores/catalog';
import { availabilitySince } from '../db/stores/inventory';
import type { RecommendationStore, ServingState, StoredAnswer } from '../db/stores/recommendations';
import { decayedScore, scoreClock, type RecommendationBuild } from '../domain/recommendations';
import type { Logger } from '../logger';
import { computeRecommendations, type RecommendedProduct, type Recommendations } from './recommend-products';
import { rejected, type Rejected } from './result';

export interface RecommendationCacheSettings {
  /** How often PostgreSQL and Redis are asked what changed; 0: no cache (every request reads the stores). */
  pollMs: number;
  /** The longest a precomputed answer read from Redis is reused, whatever the polls say. */
  maxAgeMs: number;
  /** Precomputed answers kept in the process (the oldest go first). */
  entries: number;
}

interface Composed {
  generation: string;
  version: number;
  epoch: number;
  hour: number;
  answer: Recommendations;
  storedAt: number;
}

interface Cached {
  generation: string;
  version: number;
  answer: StoredAnswer | null;
  storedAt: number;
}

/** A change seen by a poll is re-read for this long after it (a transaction can commit after its rows' updated_at). */
const CHANGE_SLACK_MS = 10_000;
/** The poller stops after this long without a request, and starts again with the next one. */
const IDLE_STOP_MS = 60_000;
const round = (x: number) => Math.round(x * 10_000) / 10_000;

/** A Map that forgets its oldest keys beyond a size. */
class Bounded<V> extends Map<string, V> {
  constructor(private readonly max: number) {
    super();
  }
  override set(key: string, value: V): this {
    this.delete(key);
    super.set(key, value);
    while (this.size > this.max) this.delete(this.keys().next().value as string);
    return this;
  }
}

/**
 * "Also bought" answers for the API (issue 19: p99 at concurrency 10 under 5 ms server time),
 * with no PostgreSQL read on a request:
 * - **Precomputed in Redis.** Every count (a paid order, a refund, a recompute page) rewrites the
 *   answers of the skus and categories it touched: `{<gen>:s:<sku>}:answer` (partners) and
 *   `{<gen>:c:…}:answer` (bestsellers), the top 100 with each product's name, price and version
 *   joined (activities/recommendations.ts). A request reads the sku's and its category's answers
 *   in parallel (one round trip), or nothing when this process holds them already.
 * - **The polled catalog state.** One poller per process, every `pollMs`: the first poll reads
 *   every product's name, price, category, active flag and version and every sku's available
 *   stock; later polls only the rows written since (`updated_at`, moved by every product write
 *   and by the stock trigger, with 10 s of slack), and the published generation and its
 *   scores' version from Redis. A request keeps an entry only if its product is active and in
 *   stock *in that state*, and shows the polled name and price when the polled version is
 *   newer than the one joined into the answer (a rename or reprice since).
 * - **Bound.** Nothing polled is used unless the last successful poll started less than
 *   2 × `pollMs` ago: a product renamed, repriced, deactivated, sold out or restocked, a purchase
 *   counted or a recompute published shows within 2 × `pollMs` (400 ms by default). When polls
 *   fail, and for a sku the polls have not seen (created since), requests read the stores
 *   themselves (recommend-products.ts), as does `pollMs` 0.
 * - Answers read from Redis are kept in the process for the generation and version the poll
 *   had read before the read started (every count moves the version after writing its answers),
 *   at most `maxAgeMs`.
 */
export class RecommendationAnswers {
  private readonly cached: Bounded<Cached>;
  /** Answers as composed, by limit and sku: reused while the generation, version, polled state (`epoch`) and hour hold. */
  private readonly composed: Bounded<Composed>;
  /** Moves when a poll finds a product or stock row that differs from the state it holds. */
  private epoch = 0;
  private readonly products = new Map<string, ProductState>();
  private readonly available = new Map<string, number>();
  private polls = 0;
  private validatedAt = -Infinity;
  private state: ServingState | undefined;
  private since: Date | null = null;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private lastRequest = 0;

  constructor(
    private readonly deps: { dbs: Databases; recommendations: RecommendationStore; logger?: Logger },
    private readonly settings: RecommendationCacheSettings,
  ) {
    this.cached = new Bounded(settings.entries);
    this.composed = new Bounded(settings.entries);
  }

  /** The answers given without any I/O (the Server-Timing header says `hit`). */
  readonly hits = new WeakSet<Recommendations | Rejected>();

  async answer(sku: string, limit: number): Promise<Recommendations | Rejected> {
    if (this.settings.pollMs <= 0) return this.direct(sku, limit);
    this.lastRequest = Date.now();
    this.startPolling();
    // the first request (or the first after an idle stop) waits for the poll under way
    if (!this.fresh() && this.polling) await this.polling;
    const state = this.fresh() ? this.state : undefined;
    const product = this.products.get(sku);
    if (!state || !product) return this.direct(sku, limit);
    if (!product.active) return rejected('not_found', 'no such product');
    const build = state.build;
    if (!build) return { kind: 'recommendations', items: [], source: 'none' };
    if (!build.answers) return this.direct(sku, limit, state);
    const category = product.category ?? 'all';

    const now = Date.now();
    const epoch = this.epoch;
    const hour = scoreClock(now);
    const memoKey = `${limit}\u0000${sku}`;
    const memo = this.composed.get(memoKey);
    if (memo && memo.generation === build.generation && memo.version === state.version && memo.epoch === epoch && memo.hour === hour && now - memo.storedAt <= this.settings.maxAgeMs) {
      this.hits.add(memo.answer);
      return memo.answer;
    }
    const remember = (answer: Recommendations) => {
      this.composed.set(memoKey, { generation: build.generation, version: state.version, epoch, hour, answer, storedAt: now });
      return answer;
    };
    const key = (owner: string) => `${build.generation}\u0000${owner}`;
    const [skuKey, categoryKey] = [key(`s:${sku}`), key(`c:${category}`)];
    const usable = (c: Cached | undefined) => (c && c.generation === build.generation && c.version === state.version && now - c.storedAt <= this.settings.maxAgeMs ? c : undefined);
    const [partners, fillers] = [usable(this.cached.get(skuKey)), usable(this.cached.get(categoryKey))];
    if (partners && fillers) {
      const result = this.compose(build, sku, limit, partners.answer, fillers.answer, now);
      this.hits.add(result);
      return remember(result);
    }
    // One round trip: both answers of the polled generation and, beside them, the generation
    // itself (right after a publish the polled one may be retired already).
    const [read, serving] = await Promise.all([this.deps.recommendations.answers(build.generation, sku, category), this.deps.recommendations.servingState()]);
    if (serving.build?.generation !== build.generation) {
      if (!serving.build) return { kind: 'recommendations', items: [], source: 'none' };
      if (!serving.build.answers) return this.direct(sku, limit, serving);
      const [p, f] = await this.deps.recommendations.answers(serving.build.generation, sku, category);
      return this.compose(serving.build, sku, limit, p, f, now);
    }
    // (labelled with what the poll read before this read started: a count moves the version after writing its answers)
    this.cached.set(skuKey, { generation: build.generation, version: state.version, answer: read[0], storedAt: now });
    this.cached.set(categoryKey, { generation: build.generation, version: state.version, answer: read[1], storedAt: now });
    return remember(this.compose(build, sku, limit, read[0], read[1], now));
  }

  /** The stores read on the request (no poll yet, polls failing, a sku not polled yet, a generation without answers). */
  private async direct(sku: string, limit: number, state?: ServingState): Promise<Recommendations | Rejected> {
    return (await computeRecommendations(this.deps, sku, limit, state ?? (await this.deps.recommendations.servingState()))).answer;
  }

  private fresh(): boolean {
    return this.state !== undefined && Date.now() - this.validatedAt <= 2 * this.settings.pollMs;
  }

  /** Partners first, then the category's bestsellers, each kept only if active and in stock in the polled state. */
  private compose(build: RecommendationBuild, sku: string, limit: number, partners: StoredAnswer | null, fillers: StoredAnswer | null, now: number): Recommendations {
    const at = scoreClock(now);
    const seen = new Set([sku]);
    const items: RecommendedProduct[] = [];
    const take = (answer: StoredAnswer | null, reason: RecommendedProduct['reason']) => {
      for (const [candidate, raw, name, priceAmount, currency, version] of answer?.entries ?? []) {
        if (items.length >= limit) return;
        if (seen.has(candidate)) continue;
        seen.add(candidate);
        const polled = this.products.get(candidate);
        const available = this.available.get(candidate) ?? 0;
        if (!polled || !polled.active || available <= 0) continue;
        // the newer of the two: the polled row (renamed or repriced since the answer was written) or the answer's
        const p = polled.version > version ? polled : { name, priceAmount, currency };
        items.push({ sku: candidate, name: p.name, price: { amount: p.priceAmount, currency: p.currency }, available, score: round(decayedScore(build, raw, at)), reason });
      }
    };
    take(partners, 'also_bought');
    take(fillers, 'bestseller');
    const source = items.some((i) => i.reason === 'also_bought') ? 'also_bought' : items.length > 0 ? 'bestsellers' : 'none';
    return { kind: 'recommendations', items, source };
  }

  /** Stops the poller (tests, shutdown); the next request starts it again. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Polls now (or waits for the poll under way), whatever the interval. */
  refresh(): Promise<void> {
    this.lastRequest = Date.now();
    return this.poll();
  }

  private startPolling() {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.settings.pollMs);
    this.timer.unref();
    void this.poll();
  }

  /** One poll at a time; a tick that finds one running skips. */
  private poll(): Promise<void> {
    if (this.polling) return this.polling;
    if (Date.now() - this.lastRequest > IDLE_STOP_MS) {
      this.stop();
      return Promise.resolve();
    }
    this.polling = this.pollOnce()
      .catch((err: unknown) => {
        // the next request starts polling again (and, until a poll succeeds, reads the stores itself)
        this.stop();
        this.deps.logger?.warn({ err }, 'recommendation cache poll failed; requests read the stores until one succeeds');
      })
      .finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce() {
    const started = Date.now();
    const [catalog, inventory, state] = await Promise.all([
      productStatesSince(this.deps.dbs.catalog, this.since),
      availabilitySince(this.deps.dbs.inventory, this.since),
      this.deps.recommendations.servingState(),
    ]);
    let changed = false;
    for (const row of catalog.rows) {
      const known = this.products.get(row.sku);
      if (!known || known.version < row.version) changed = true;
      if (!known || known.version <= row.version) this.products.set(row.sku, row);
    }
    // (a later poll's read is never older than an earlier one's: polls run one at a time)
    for (const row of inventory.rows) {
      if (this.available.get(row.sku) !== row.available) changed = true;
      this.available.set(row.sku, row.available);
    }
    if (changed) this.epoch += 1;
    this.since = new Date(Math.min(catalog.now.getTime(), inventory.now.getTime()) - CHANGE_SLACK_MS);
    this.polls += 1;
    this.state = state;
    this.validatedAt = started;
  }
}
