import type { Databases } from '../db/client';
import type { Product } from '../db/schema/catalog';
import { productChangesSince } from '../db/stores/catalog';
import { stockChangesSince, type StockLevel } from '../db/stores/inventory';
import type { RecommendationStore, ServingState } from '../db/stores/recommendations';
import type { Logger } from '../logger';
import { catalogRowsOf, computeRecommendations, type CatalogRows, type Recommendations } from './recommend-products';
import type { Rejected } from './result';

export interface RecommendationCacheSettings {
  /** How often PostgreSQL and Redis are asked what changed; 0: no cache. */
  pollMs: number;
  /** The longest an answer is reused, whatever the polls say. */
  maxAgeMs: number;
  /** Answers kept (the oldest go first); as many product rows and stock levels. */
  entries: number;
}

interface Entry {
  generation: string | null;
  version: number;
  answer: Recommendations | Rejected;
  consulted: string[];
  storedAt: number;
}

/** A change seen by a poll is re-read for this long after it (a transaction can commit after its rows' updated_at). */
const CHANGE_SLACK_MS = 10_000;
/** How many polls a drop is remembered for (`mayStore`). */
const DROP_MEMORY_POLLS = 20;
/** The poller stops after this long without a request, and starts again with the next one. */
const IDLE_STOP_MS = 60_000;

/** A Map that forgets its oldest keys beyond a size. */
class Bounded<V> extends Map<string, V> {
  constructor(
    private readonly max: number,
    private readonly evicted: (key: string) => void = () => undefined,
  ) {
    super();
  }
  override set(key: string, value: V): this {
    this.delete(key);
    super.set(key, value);
    while (this.size > this.max) this.evicted(this.keys().next().value as string);
    return this;
  }
}

/**
 * "Also bought" answers, cached in the process (issue 19: p99 at concurrency 10 under 5 ms).
 * A poll every `pollMs` reads what changed, and a request answered from the cache does no I/O:
 * - **Scores:** the poll reads the published generation and its scores' version from Redis
 *   (one script); an answer is reused only for the generation and version it was built from
 *   (every purchase or refund counted moves the version, a recompute's publish the generation);
 *   a miss reads them itself, so it never reads a generation retired since the last poll.
 * - **Products and stock:** the poll asks PostgreSQL which product and stock rows changed
 *   (their version; updated_at, moved by the stock trigger) and drops every answer, product row
 *   and stock level of those skus. The product rows and stock levels a new answer needs are
 *   cached the same way, so a miss usually costs one Redis round trip (the two sorted sets).
 * - Nothing cached is used unless the last successful poll started less than 2 × `pollMs`
 *   ago: any change (a product deactivated or sold out, a purchase counted) shows in every
 *   answer within that (400 ms by default), and when polls fail (Redis or PostgreSQL down)
 *   every request reads the stores itself.
 * - An answer or row read while a poll dropped one of its skus is not stored (it may have been
 *   read before that change). No answer lives longer than `maxAgeMs` (scores decay with time).
 */
export class RecommendationAnswers {
  private readonly entries: Bounded<Entry>;
  private readonly products: Bounded<Product | null>;
  private readonly levels: Bounded<StockLevel | null>;
  /** The answers being computed, by key. */
  private readonly computing = new Map<string, { polls: number; answer: Promise<Recommendations | Rejected> }>();
  /** sku → the keys of the answers that read it. */
  private readonly readers = new Map<string, Set<string>>();
  /** sku → the poll count when it was last dropped (see `mayStore`). */
  private readonly droppedAt = new Map<string, number>();
  /** `${kind}:${sku}` → the version last seen, and when it changed (pruned after the slack). */
  private readonly seen = new Map<string, { version: number; at: number }>();
  private polls = 0;
  private validatedAt = -Infinity;
  private state: ServingState | undefined;
  private since: Date | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private lastRequest = 0;

  constructor(
    private readonly deps: { dbs: Databases; recommendations: RecommendationStore; logger?: Logger },
    private readonly settings: RecommendationCacheSettings,
  ) {
    this.entries = new Bounded(settings.entries, (key) => this.drop(key));
    this.products = new Bounded(settings.entries, (sku) => this.products.delete(sku));
    this.levels = new Bounded(settings.entries, (sku) => this.levels.delete(sku));
  }

  /** The answers that were served from the cache at least once (the Server-Timing header says so). */
  readonly hits = new WeakSet<Recommendations | Rejected>();

  async answer(sku: string, limit: number): Promise<Recommendations | Rejected> {
    if (this.settings.pollMs <= 0) return (await computeRecommendations(this.deps, sku, limit, await this.deps.recommendations.servingState())).answer;
    const now = Date.now();
    this.lastRequest = now;
    this.startPolling();
    const key = `${limit}\u0000${sku}`;
    const fresh = now - this.validatedAt <= 2 * this.settings.pollMs ? this.state : undefined;
    if (fresh) {
      const hit = this.entries.get(key);
      if (hit && hit.generation === (fresh.build?.generation ?? null) && hit.version === fresh.version && now - hit.storedAt <= this.settings.maxAgeMs) {
        this.hits.add(hit.answer);
        return hit.answer;
      }
    }
    // Concurrent misses of one answer share one computation, if no poll ended since it started
    // (a joiner must not get an answer older than what a hit may be).
    const pending = this.computing.get(key);
    if (pending && pending.polls === this.polls) return pending.answer;
    const computing = this.compute(key, sku, limit, fresh, now).finally(() => {
      if (this.computing.get(key)?.answer === computing) this.computing.delete(key);
    });
    this.computing.set(key, { polls: this.polls, answer: computing });
    return computing;
  }

  private async compute(key: string, sku: string, limit: number, fresh: ServingState | undefined, now: number): Promise<Recommendations | Rejected> {
    const pollsBefore = this.polls;
    // A miss reads the generation itself (just after a publish the polled one may be retired already),
    // and the polled generation's sorted sets in the same round trip.
    const reading = this.deps.recommendations.servingState();
    const { answer, consulted } = await computeRecommendations(this.deps, sku, limit, reading, fresh ? this.cachedRows(pollsBefore) : catalogRowsOf(this.deps.dbs), fresh?.build);
    const state = await reading;
    if (this.mayStore(pollsBefore, consulted)) {
      this.drop(key);
      this.entries.set(key, { generation: state.build?.generation ?? null, version: state.version, answer, consulted, storedAt: now });
      for (const s of consulted) {
        let keys = this.readers.get(s);
        if (!keys) this.readers.set(s, (keys = new Set()));
        keys.add(key);
      }
    }
    return answer;
  }

  /** Stops the poller (tests, shutdown); the next request starts it again. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Product rows and stock levels from the cache, the missing ones read in one query each and kept. */
  private cachedRows(pollsBefore: number): CatalogRows {
    const db = catalogRowsOf(this.deps.dbs);
    const through = <V>(cache: Bounded<V | null>, read: (skus: string[]) => Promise<Map<string, V>>) => async (skus: string[]) => {
      const out = new Map<string, V>();
      const missing: string[] = [];
      for (const s of skus) {
        const cached = cache.get(s);
        if (cached === undefined) missing.push(s);
        else if (cached !== null) out.set(s, cached);
      }
      if (missing.length === 0) return out;
      const read_ = await read(missing);
      const keep = this.mayStore(pollsBefore, []);
      for (const s of missing) {
        const v = read_.get(s);
        if (v !== undefined) out.set(s, v);
        if (keep && (this.droppedAt.get(s) ?? -1) <= pollsBefore) cache.set(s, v ?? null);
      }
      return out;
    };
    return { products: through(this.products, db.products), levels: through(this.levels, db.levels) };
  }

  /**
   * What was read may be kept only when a poll had run before the read started, no poll since
   * dropped one of its skus (it may have read a row before that change), and it took at most a
   * few polls.
   */
  private mayStore(pollsBefore: number, consulted: string[]): boolean {
    if (pollsBefore === 0 || this.polls - pollsBefore > DROP_MEMORY_POLLS / 2) return false;
    // (a drop by the poll that ended before the read started saw a change already committed: the read has it)
    return consulted.every((s) => (this.droppedAt.get(s) ?? -1) <= pollsBefore);
  }

  private drop(key: string) {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const s of entry.consulted) {
      const keys = this.readers.get(s);
      keys?.delete(key);
      if (keys?.size === 0) this.readers.delete(s);
    }
  }

  private dropSku(sku: string) {
    this.droppedAt.set(sku, this.polls);
    this.products.delete(sku);
    this.levels.delete(sku);
    for (const key of [...(this.readers.get(sku) ?? [])]) this.drop(key);
    this.readers.delete(sku);
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
    const first = this.since === undefined;
    const since = this.since ?? new Date(started - CHANGE_SLACK_MS);
    const [catalog, inventory, state] = await Promise.all([
      productChangesSince(this.deps.dbs.catalog, since),
      stockChangesSince(this.deps.dbs.inventory, since),
      this.deps.recommendations.servingState(),
    ]);
    this.polls += 1;
    for (const [kind, changes] of [['p', catalog.changes], ['s', inventory.changes]] as const) {
      for (const c of changes) {
        const id = `${kind}:${c.sku}`;
        if (this.seen.get(id)?.version === c.version) continue;
        this.seen.set(id, { version: c.version, at: c.updatedAt.getTime() });
        // (nothing is stored before the first poll: it only learns what it has seen)
        if (!first) this.dropSku(c.sku);
      }
    }
    for (const [s, at] of this.droppedAt) if (at < this.polls - DROP_MEMORY_POLLS) this.droppedAt.delete(s);
    this.since = new Date(Math.min(catalog.now.getTime(), inventory.now.getTime()) - CHANGE_SLACK_MS);
    for (const [id, { at }] of this.seen) if (at < this.since.getTime()) this.seen.delete(id);
    this.state = state;
    this.validatedAt = started;
  }
}
