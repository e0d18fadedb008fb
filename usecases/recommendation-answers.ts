import type { Databases } from '../db/client';
import { productStatesSince, type ProductState } from '../db/stores/catalog';
import { availabilitySince } from '../db/stores/inventory';
import { ownerId, type RecommendationStore, type ServingState, type StoredAnswer } from '../db/stores/recommendations';
import { decayedScore, scoreClock, type RecommendationBuild } from '../domain/recommendations';
import type { Logger } from '../logger';
import { computeRecommendations, type RecommendedProduct, type Recommendations } from './recommend-products';
import { rejected, type Rejected } from './result';

export interface RecommendationCacheSettings {
  /** How often PostgreSQL and Redis are asked what changed; 0: no cache (every request reads the stores). */
  pollMs: number;
  /** The longest a precomputed answer read from Redis is reused in the process, whatever the polls say. */
  maxAgeMs: number;
  /** Precomputed answers kept in the process (the least recently used go first). */
  entries: number;
  /** And at most this many bytes of them (estimated: 3 × their JSON; the least recently used go first). Default 64 MiB. */
  maxBytes?: number;
}

interface Composed {
  epoch: number;
  hour: number;
  /** The cached answers it was composed from: it holds while both are still the ones cached. */
  partners: Cached;
  fillers: Cached;
  answer: Recommendations;
}

interface Cached {
  generation: string;
  answer: StoredAnswer | null;
  storedAt: number;
  /** Estimated heap bytes (3 × the JSON read, plus the key). */
  bytes: number;
}

/** A change seen by a poll is re-read for this long after it (a transaction can commit after its rows' updated_at). */
const CHANGE_SLACK_MS = 10_000;
/** The poller stops after this long without a request, and starts again with the next one. */
const IDLE_STOP_MS = 60_000;
/** More changed answers than this since the last poll: every cached answer is dropped (and read again by the warm-up). */
const MAX_CHANGED = 2_000;
/** Answers the warm-up reads per poll (parallel GETs in batches of WARM_BATCH), parsed in slices of at most ~1 ms. */
const WARM_PER_POLL = 1_000;
const WARM_BATCH = 100;
const WARM_SCAN = 5_000;
const DEFAULT_MAX_BYTES = 64 * 2 ** 20;
const round = (x: number) => Math.round(x * 10_000) / 10_000;
const sizeOf = (key: string, raw: string | null) => 3 * (raw?.length ?? 0) + 2 * key.length + 120;
const parseAnswer = (raw: string | null): StoredAnswer | null => (raw ? (JSON.parse(raw) as StoredAnswer) : null);

/** A Map that forgets its least recently used keys beyond a count (and the composed answers beyond theirs). */
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
  /** A get that makes the key the most recently used. */
  touch(key: string): V | undefined {
    const value = super.get(key);
    if (value !== undefined) {
      super.delete(key);
      super.set(key, value);
    }
    return value;
  }
}

/** Cached answers under a count and a byte budget, least recently used first out. */
class AnswerCache {
  private readonly map = new Map<string, Cached>();
  private bytes = 0;
  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}
  get size() {
    return this.map.size;
  }
  get usedBytes() {
    return this.bytes;
  }
  /** Room for one more of `bytes` without evicting anything (the warm-up only fills free room). */
  hasRoom(bytes: number): boolean {
    return this.map.size < this.maxEntries && this.bytes + bytes <= this.maxBytes;
  }
  peek(key: string): Cached | undefined {
    return this.map.get(key);
  }
  /** A get that makes the key the most recently used. */
  use(key: string): Cached | undefined {
    const value = this.map.get(key);
    if (value) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: string, value: Cached): void {
    this.delete(key);
    // (an answer larger than the whole budget is not kept: read from Redis on every ask)
    if (value.bytes > this.maxBytes) return;
    this.map.set(key, value);
    this.bytes += value.bytes;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next().value as string | undefined;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
  }
  delete(key: string): void {
    const value = this.map.get(key);
    if (!value) return;
    this.bytes -= value.bytes;
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}

/**
 * "Also bought" answers for the API (issue 19: p99 at concurrency 10 under 5 ms server time),
 * with no PostgreSQL read on a request, and as a rule no Redis read either:
 * - **Precomputed in Redis.** Every count (a paid order, a refund, a recompute page) rewrites the
 *   answers of the skus and categories it touched: `{<gen>:s:<sku>}:answer` (partners) and
 *   `{<gen>:c:…}:answer` (bestsellers), the top 100 with each product's name, price and version
 *   joined (activities/recommendations.ts), then moves the generation's version, recording at
 *   the new version which answers changed (`{ptr}:changes:<gen>`).
 * - **The polled state.** One poller per process, every `pollMs`: the first poll reads every
 *   product's name, price, category, active flag and version and every sku's available stock;
 *   later polls only the rows written since (`updated_at`, moved by every product write and by
 *   the stock trigger, with 10 s of slack); and, in one Redis round trip, the published
 *   generation, its version and the answers changed since the version the last poll saw.
 *   Cached answers that changed are read again before the poll's state is used (one more round
 *   trip, in the poll), so a hot answer stays a hit through purchases and refunds.
 * - **Warm before the first ask.** After each poll, the answers of the generation not cached yet
 *   are read in the background (every category's, then the skus best sellers first, then the
 *   rest of the polled catalog; up to 1,000 a poll, parsed in slices of ~1 ms), until the cache's
 *   budget is full: a sku's first ask in a process is a hit, not a read of Redis. Hot answers
 *   past half their `maxAgeMs` are read again the same way.
 * - **Bound.** Nothing polled is used unless the last successful poll started less than
 *   2 × `pollMs` ago: a product renamed, repriced, deactivated, sold out or restocked, a purchase
 *   counted or a refund taken out, or a recompute published shows within 2 × `pollMs` (400 ms by
 *   default). A request keeps an entry only if its product is active and in stock *in the polled
 *   state*, and shows the polled name and price when the polled version is newer than the one
 *   joined into the answer. When polls fail, and for a sku the polls have not seen (created
 *   since), requests read the stores themselves (recommend-products.ts), as does `pollMs` 0.
 * - **Memory.** At most `entries` answers and `maxBytes` of them (estimated at 3 × their JSON:
 *   a parsed answer of 100 entries takes about 2.5 ×), the least recently used out first; the
 *   warm-up only fills free room. Composed answers (per sku and limit) are kept up to `entries`.
 * - An answer read on a request (a miss) is kept only if no poll moved the version while it
 *   was read (a change the poll saw might be newer than what was read); a publish drops the
 *   cached answers of the old generation (the warm-up reads the new one's).
 */
export class RecommendationAnswers {
  private readonly cached: AnswerCache;
  /** Answers as composed, by limit and sku: reused while their cached answers, the polled state (`epoch`) and the hour hold. */
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
  /** The warm-up's list of owners (`ownerId`) for the generation `warmFor`, and how far it got. */
  private warmList: string[] = [];
  private warmAt = 0;
  private warmFor: string | undefined;
  private warming: Promise<void> | undefined;
  /** Cached answers asked past half their max age: the next warm-up step reads them again. */
  private readonly refreshSoon = new Set<string>();
  /** Counters for the bench and tests. */
  readonly stats = { warmed: 0, refreshedOnChange: 0, misses: 0 };

  constructor(
    private readonly deps: { dbs: Databases; recommendations: RecommendationStore; logger?: Logger },
    private readonly settings: RecommendationCacheSettings,
  ) {
    this.cached = new AnswerCache(settings.entries, settings.maxBytes ?? DEFAULT_MAX_BYTES);
    this.composed = new Bounded(settings.entries);
  }

  /** The answers given without any I/O (the Server-Timing header says `hit`). */
  readonly hits = new WeakSet<Recommendations | Rejected>();

  /** How many answers and (estimated) bytes are cached. */
  get cacheSize(): { entries: number; bytes: number } {
    return { entries: this.cached.size, bytes: this.cached.usedBytes };
  }

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
    const [skuKey, categoryKey] = [ownerId({ sku }), ownerId({ category })];
    const usable = (key: string) => {
      const c = this.cached.use(key);
      if (!c || c.generation !== build.generation || now - c.storedAt > this.settings.maxAgeMs) return undefined;
      if (now - c.storedAt > this.settings.maxAgeMs / 2) this.refreshSoon.add(key);
      return c;
    };
    const [partners, fillers] = [usable(skuKey), usable(categoryKey)];
    if (partners && fillers) {
      const memoKey = `${limit}\u0000${sku}`;
      const memo = this.composed.get(memoKey);
      if (memo && memo.partners === partners && memo.fillers === fillers && memo.epoch === epoch && memo.hour === hour) {
        this.hits.add(memo.answer);
        return memo.answer;
      }
      const result = this.compose(build, sku, limit, partners.answer, fillers.answer, now);
      this.composed.set(memoKey, { epoch, hour, partners, fillers, answer: result });
      this.hits.add(result);
      return result;
    }
    this.stats.misses += 1;
    // One round trip: both answers of the polled generation and, beside them, the generation
    // itself (right after a publish the polled one may be retired already).
    const [read, serving] = await Promise.all([this.deps.recommendations.rawAnswers(build.generation, [skuKey, categoryKey]), this.deps.recommendations.servingState()]);
    if (serving.build?.generation !== build.generation) {
      if (!serving.build) return { kind: 'recommendations', items: [], source: 'none' };
      if (!serving.build.answers) return this.direct(sku, limit, serving);
      const [p, f] = await this.deps.recommendations.answers(serving.build.generation, sku, category);
      return this.compose(serving.build, sku, limit, p, f, now);
    }
    const [p, f] = [parseAnswer(read[0] ?? null), parseAnswer(read[1] ?? null)];
    // kept only if no poll moved the version while it was read (what it saw changed might be newer than this)
    if (this.still(state)) {
      this.cached.set(skuKey, { generation: build.generation, answer: p, storedAt: now, bytes: sizeOf(skuKey, read[0] ?? null) });
      this.cached.set(categoryKey, { generation: build.generation, answer: f, storedAt: now, bytes: sizeOf(categoryKey, read[1] ?? null) });
    }
    return this.compose(build, sku, limit, p, f, now);
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

  /** Waits for the poll and the warm-up step under way (tests, the bench). */
  async settled(): Promise<void> {
    await this.polling;
    await this.warming;
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
    const known = this.state?.build ? { generation: this.state.build.generation, version: this.state.version, max: MAX_CHANGED } : undefined;
    const [catalog, inventory, state] = await Promise.all([
      productStatesSince(this.deps.dbs.catalog, this.since),
      availabilitySince(this.deps.dbs.inventory, this.since),
      this.deps.recommendations.servingState(known),
    ]);
    // The cached answers that changed since the last poll, read again before this state is used.
    const generation = state.build?.generation;
    let reread: { keys: string[]; raws: (string | null)[] } | undefined;
    // (a move of the version that recorded no changes — a worker of an older build — leaves no way to tell what changed)
    let dropAll = !generation || generation !== this.warmFor || !state.changed || state.version < (known?.version ?? 0) || state.unrecorded !== this.state?.unrecorded;
    if (!dropAll && generation && state.changed && state.changed.length > 0) {
      const keys = state.changed.filter((key) => this.cached.peek(key));
      reread = { keys, raws: keys.length > 0 ? await this.deps.recommendations.rawAnswers(generation, keys) : [] };
    }
    let changed = false;
    for (const row of catalog.rows) {
      const known = this.products.get(row.sku);
      if (!known || known.version < row.version) changed = true;
      // (a sku seen for the first time joins the warm-up)
      if (!known && row.active && generation && generation === this.warmFor) {
        const category = ownerId({ category: row.category ?? 'all' });
        // (a new category goes before the skus left: a hit needs the sku's and its category's answers)
        if (!this.warmList.includes(category)) this.warmList.splice(this.warmAt, 0, category);
        this.warmList.push(ownerId({ sku: row.sku }));
      }
      if (!known || known.version <= row.version) this.products.set(row.sku, row);
    }
    // (a later poll's read is never older than an earlier one's: polls run one at a time)
    for (const row of inventory.rows) {
      if (this.available.get(row.sku) !== row.available) changed = true;
      this.available.set(row.sku, row.available);
    }
    if (changed) this.epoch += 1;
    if (!known) dropAll = true;
    if (dropAll) {
      // another generation (a publish), too many changes, or the first poll: the warm-up starts over
      this.cached.clear();
      this.warmFor = generation;
      this.warmList = generation ? this.warmOrder() : [];
      this.warmAt = 0;
      this.refreshSoon.clear();
    } else if (generation && state.changed) {
      for (const key of state.changed) if (!reread?.keys.includes(key)) this.cached.delete(key);
      reread?.keys.forEach((key, i) => {
        const raw = reread.raws[i] ?? null;
        this.cached.set(key, { generation, answer: parseAnswer(raw), storedAt: started, bytes: sizeOf(key, raw) });
        this.stats.refreshedOnChange += 1;
      });
    }
    this.since = new Date(Math.min(catalog.now.getTime(), inventory.now.getTime()) - CHANGE_SLACK_MS);
    this.polls += 1;
    this.state = state;
    this.validatedAt = started;
    if (!this.warming && state.build?.answers) {
      this.warming = this.warm(state).finally(() => (this.warming = undefined));
      this.warming.catch((err: unknown) => this.deps.logger?.warn({ err }, 'recommendation cache warm-up failed; the next poll tries again'));
    }
  }

  /** The owners the warm-up reads, in order: every category (`all` first), then the skus (the best sellers go first once `all` is read). */
  private warmOrder(): string[] {
    const categories = new Set<string>(['all']);
    const skus: string[] = [];
    for (const p of this.products.values()) {
      if (!p.active) continue;
      categories.add(p.category ?? 'all');
      skus.push(p.sku);
    }
    return [...[...categories].map((category) => ownerId({ category })), ...skus.map((sku) => ownerId({ sku }))];
  }

  /** Whether the polled state still holds what `state` said of the answers (no version moved, same generation). */
  private still(state: ServingState): boolean {
    return this.state?.version === state.version && this.state.build?.generation === state.build?.generation;
  }

  /**
   * One warm-up step: up to WARM_PER_POLL answers of the polled generation that are not cached
   * (or were asked past half their max age), while the cache has free room. Stops when a poll
   * moves the version (what it saw changed might be newer than what was read); the next step
   * goes on from there.
   */
  private async warm(state: ServingState): Promise<void> {
    const generation = state.build?.generation;
    if (!generation || generation !== this.warmFor) return;
    const list = this.warmList;
    const wanted = [...this.refreshSoon];
    const picked = new Set(wanted);
    this.refreshSoon.clear();
    const allKey = ownerId({ category: 'all' });
    const firstStep = this.warmAt === 0 && !this.cached.peek(allKey);
    const now = Date.now();
    const due = (key: string) => {
      const c = this.cached.peek(key);
      return !c || now - c.storedAt > this.settings.maxAgeMs / 2;
    };
    // (at most WARM_SCAN keys looked at per step; at the end of the list it starts over, reading what is past half its max age)
    for (let scanned = 0; scanned < WARM_SCAN && wanted.length < WARM_PER_POLL && list.length > 0; scanned++) {
      if (this.warmAt >= list.length) this.warmAt = 0;
      const key = list[this.warmAt] as string;
      if (due(key)) {
        if (!this.cached.peek(key) && !this.cached.hasRoom(sizeOf(key, null))) break;
        if (!picked.has(key)) {
          picked.add(key);
          wanted.push(key);
        }
      }
      this.warmAt += 1;
      // (the first step reads the categories only: then the best sellers' skus go first)
      if (firstStep && key.startsWith('c:') && !list[this.warmAt]?.startsWith('c:')) break;
    }
    for (let i = 0; i < wanted.length; i += WARM_BATCH) {
      const keys = wanted.slice(i, i + WARM_BATCH);
      const raws = await this.deps.recommendations.rawAnswers(generation, keys);
      let slice = performance.now();
      for (let j = 0; j < keys.length; j++) {
        const key = keys[j] as string;
        const raw = raws[j] ?? null;
        const bytes = sizeOf(key, raw);
        if (!this.still(state) || (!this.cached.peek(key) && !this.cached.hasRoom(bytes))) {
          // not kept: read again by a later step (unless a poll started the warm-up over)
          if (this.warmList === list) this.warmList.splice(this.warmAt, 0, ...wanted.slice(i + j).filter(due));
          return;
        }
        const answer = parseAnswer(raw);
        this.cached.set(key, { generation, answer, storedAt: Date.now(), bytes });
        this.stats.warmed += 1;
        if (key === allKey && firstStep) this.promote((answer?.entries ?? []).map(([sku]) => ownerId({ sku })));
        if (performance.now() - slice > 1) {
          await new Promise((resolve) => setImmediate(resolve));
          slice = performance.now();
        }
      }
    }
    if (firstStep && this.still(state)) await this.warm(state);
  }

  /** Moves these skus' owners to the front of what the warm-up has left to read (after the categories). */
  private promote(keys: string[]) {
    const first = new Set(keys.filter((key) => this.products.get(key.slice(2))?.active));
    const rest = this.warmList.slice(this.warmAt).filter((key) => !first.has(key));
    const categories = rest.filter((key) => key.startsWith('c:'));
    this.warmList.splice(this.warmAt, Infinity, ...categories, ...first, ...rest.filter((key) => !key.startsWith('c:')));
  }
}
