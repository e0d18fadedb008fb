import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { coPurchases, purchaseWeight, skusByCategory, type Purchase, type RecommendationBuild } from '../../domain/recommendations';

/**
 * The recommendation context's store: co-purchase scores and category bestsellers in Redis,
 * one generation at a time (docs/architecture.md, "Recommendations"). It knows nothing of
 * the order tables: purchases reach it as `Purchase` values read by activities.
 *
 * Keys, under the configured prefix:
 *   {ptr}:current, {ptr}:building          the published generation and the one being built (JSON RecommendationBuild)
 *   {ptr}:versions                         HASH generation → a counter moved after every purchase or refund counted into it
 *   {ptr}:recorded                         HASH generation → how many of those moves recorded their changed answers (below)
 *   {ptr}:changes:<gen>                    ZSET answer owner ("s:<sku>", "c:<category>", "c:all") → the generation's version
 *                                          when its answer last changed: API processes re-read only those (at most one
 *                                          member per sku and category of the generation; dropped with it)
 *   {<gen>:s:<sku>}:also                   ZSET partner sku → raw co-purchase score
 *   {<gen>:s:<sku>}:orders                 HASH order id → what it added ("<weight>\t<sku>…"), or "r" once refunded
 *   {<gen>:c:=<category>|*}:best           ZSET sku → raw order count in the category (* = every category)
 *   {<gen>:c:…}:orders                     HASH as above
 *   {<gen>:s:<sku>}:answer, {<gen>:c:…}:answer  STRING (JSON StoredAnswer): the set's top entries with each
 *                                          product's name, price and version joined when it was written
 * A sorted set and the hash that counts into it share a hash tag, so each script touches one
 * slot (Redis Cluster), while different skus spread over the cluster.
 */
export type RedisClient = Redis | Cluster;

/** Counts one order into a sorted set once: the hash field is the claim and remembers what was added. */
const ADD = `
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
local weight = nil
for part in string.gmatch(ARGV[2], '[^\\t]+') do
  if not weight then weight = part else redis.call('ZINCRBY', KEYS[1], weight, part) end
end
return 1
`;

/**
 * Takes one order out again (a full refund), once: subtracts exactly what ADD added, and
 * marks the order refunded so a later ADD of it (a recompute that read it before the refund)
 * is a no-op. Scores that reach zero are removed.
 */
const REMOVE = `
local was = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], 'r')
if (not was) or was == 'r' then return 0 end
local weight = nil
for part in string.gmatch(was, '[^\\t]+') do
  if not weight then weight = part else
    local score = tonumber(redis.call('ZINCRBY', KEYS[1], '-' .. weight, part))
    if score <= 1e-9 then redis.call('ZREM', KEYS[1], part) end
  end
end
return 1
`;

/** Publishes a generation: it becomes current, and stops being the one in construction. */
const PUBLISH = `
redis.call('SET', KEYS[1], ARGV[1])
local building = redis.call('GET', KEYS[2])
if building and cjson.decode(building).generation == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
`;

/**
 * What a reader needs to know whether a cached answer still holds, in one round trip: the
 * published generation and how often its scores have changed (same hash tag: one slot) and,
 * when the reader names the generation and version it saw last, the owners whose answers
 * changed since (at most ARGV[3] + 1 of them; false when the generation is another one).
 */
const SERVING = `
local current = redis.call('GET', KEYS[1])
if not current then return {false, false, false, false} end
local gen = cjson.decode(current).generation
local version = redis.call('HGET', KEYS[2], gen)
local recorded = redis.call('HGET', KEYS[4], gen)
if ARGV[1] ~= gen then return {current, version, false, recorded} end
return {current, version, redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[2], '+inf', 'LIMIT', 0, tonumber(ARGV[3]) + 1), recorded}
`;

/** Moves a generation's version and records, at that version, the owners whose answers changed (one slot). */
const TOUCH = `
local version = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
for i = 2, #ARGV do redis.call('ZADD', KEYS[2], version, ARGV[i]) end
return version
`;

/**
 * Writes a precomputed answer only if its sorted set still holds what the answer was built
 * from (the top entries as the client read them): a writer that read an older set loses to
 * the one whose change came later, which writes after it (optimistic concurrency, one slot).
 */
const STORE_ANSWER = `
local flat = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
if table.concat(flat, '\\t') ~= ARGV[2] then return 0 end
if #flat == 0 then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[3]) end
return 1
`;

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

async function runScript(redis: RedisClient, script: string, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await redis.evalsha(sha1(script), keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
    return redis.eval(script, keys.length, ...keys, ...args);
  }
}

const ALL_CATEGORIES = '*';
const enc = (s: string) => encodeURIComponent(s);
const parseBuild = (raw: string | null): RecommendationBuild | null => (raw ? (JSON.parse(raw) as RecommendationBuild) : null);

/** The published generation and the version of its scores (0 before any purchase moved them). */
export interface ServingState {
  build: RecommendationBuild | null;
  version: number;
  /**
   * Asked with `since`: the owners (`ownerId`) whose answers changed after `since.version`, when
   * the generation is still `since.generation`; undefined otherwise, or when more than `max` did.
   */
  changed?: string[];
  /**
   * Moves of the version that recorded no changed answers: a worker of a build before the change
   * log (during a rolling deploy) moves the version only. A reader that sees this number change
   * cannot tell which answers changed and drops them all.
   */
  unrecorded: number;
}

/** An answer owner as one string: `s:<sku>`, `c:<category>`, `c:all` (every category). */
export const ownerId = (owner: AnswerOwner): string => ('sku' in owner ? `s:${owner.sku}` : `c:${owner.category}`);
const ownerOf = (id: string): AnswerOwner => (id.startsWith('s:') ? { sku: id.slice(2) } : { category: id.slice(2) });

export interface ScoredSku {
  sku: string;
  raw: number;
}

/** Entries kept per precomputed answer: the largest limit (50) twice over, for the unsellable ones left out at read time. */
export const ANSWER_DEPTH = 100;

/** One entry of a precomputed answer: sku, raw score, then the product as it was when written (name, price, currency, version). */
export type StoredEntry = [sku: string, raw: number, name: string, priceAmount: number, currency: string, version: number];

/** A sku's partners, or a category's bestsellers, best first, with the product fields joined. */
export interface StoredAnswer {
  entries: StoredEntry[];
}

/** Whose answer: a sku's "also bought", or the bestsellers of a category (`all`: every category). */
export type AnswerOwner = { sku: string } | { category: string | 'all' };

/** A sorted set as read for an answer: its top entries, and the flat reply the write compares against. */
export interface AnswerSource {
  owner: AnswerOwner;
  flat: string[];
  scored: ScoredSku[];
}

export class RecommendationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private readonly pointer = (which: 'current' | 'building') => `${this.prefix}{ptr}:${which}`;
  private skuTag = (gen: string, sku: string) => `${this.prefix}{${gen}:s:${enc(sku)}}`;
  private categoryTag = (gen: string, category: string | null | typeof ALL_CATEGORIES) =>
    `${this.prefix}{${gen}:c:${category === ALL_CATEGORIES ? ALL_CATEGORIES : `=${enc(category ?? '')}`}}`;

  async current(): Promise<RecommendationBuild | null> {
    return parseBuild(await this.redis.get(this.pointer('current')));
  }

  /**
   * The published generation and its scores' version, in one round trip (one script, one slot);
   * with `since`, also which answers changed after that version of that generation (at most `max`).
   */
  async servingState(since?: { generation: string; version: number; max: number }): Promise<ServingState> {
    const keys = [this.pointer('current'), this.versions(), this.changes(since?.generation ?? ''), this.recorded()];
    const [current, version, changed, recorded] = (await runScript(this.redis, SERVING, keys, since ? [since.generation, String(since.version), String(since.max)] : ['', '0', '0'])) as [
      string | null,
      string | null,
      string[] | null,
      string | null,
    ];
    const state: ServingState = { build: parseBuild(current), version: Number(version ?? 0), unrecorded: Number(version ?? 0) - Number(recorded ?? 0) };
    if (since && Array.isArray(changed) && changed.length <= since.max) state.changed = changed;
    return state;
  }

  /**
   * Moves a generation's version, recording the owners whose answers changed at the new one:
   * readers re-read those. Called after every count or refund, also one that changed nothing
   * (a retry after a lost reply must not leave the move undone).
   */
  private async touch(builds: RecommendationBuild[], owners: AnswerOwner[] = []): Promise<void> {
    const ids = [...new Set(owners.map(ownerId))];
    await Promise.all([...new Set(builds.map((b) => b.generation))].map((gen) => runScript(this.redis, TOUCH, [this.versions(), this.changes(gen), this.recorded()], [gen, ...ids])));
  }

  private readonly versions = () => `${this.prefix}{ptr}:versions`;
  private readonly changes = (gen: string) => `${this.prefix}{ptr}:changes:${gen}`;
  private readonly recorded = () => `${this.prefix}{ptr}:recorded`;

  async building(): Promise<RecommendationBuild | null> {
    return parseBuild(await this.redis.get(this.pointer('building')));
  }

  /** The generations a purchase or refund must reach: the published one and the one being built. */
  async liveBuilds(): Promise<RecommendationBuild[]> {
    const [current, building] = await Promise.all([this.current(), this.building()]);
    if (!current) return building ? [building] : [];
    return building && building.generation !== current.generation ? [current, building] : [current];
  }

  /** The published generation, or `fresh` published now when there is none (first purchase, or Redis lost its data). */
  async currentOrStart(fresh: RecommendationBuild): Promise<RecommendationBuild> {
    await this.redis.set(this.pointer('current'), JSON.stringify(fresh), 'NX');
    return (await this.current()) ?? fresh;
  }

  /** Marks `build` as the generation in construction; a retry with the same generation keeps the first one's epoch. */
  async beginBuild(build: RecommendationBuild): Promise<RecommendationBuild> {
    const existing = await this.building();
    if (existing?.generation === build.generation) return existing;
    await this.redis.set(this.pointer('building'), JSON.stringify(build));
    return build;
  }

  /** Swaps the finished generation in: one SET, so readers see the old one or the new one, never half of one. */
  async publish(build: RecommendationBuild): Promise<void> {
    await runScript(this.redis, PUBLISH, [this.pointer('current'), this.pointer('building')], [JSON.stringify(build), build.generation]);
  }

  /** Counts purchases into a generation; each (order, key) once, whatever retries or incremental updates did before. */
  async addPurchases(build: RecommendationBuild, purchases: Purchase[]): Promise<number> {
    const calls: Promise<unknown>[] = [];
    for (const p of purchases) {
      for (const [keys, members] of this.targets(build.generation, p)) {
        calls.push(runScript(this.redis, ADD, keys, [p.orderId, [String(purchaseWeight(build, p.atMs)), ...members].join('\t')]));
      }
    }
    const added = await Promise.all(calls);
    await this.touch([build]);
    return added.filter((a) => a === 1).length;
  }

  /** Takes a refunded purchase out of a generation (and keeps it out). */
  async removePurchase(build: RecommendationBuild, purchase: Purchase): Promise<number> {
    const removed = await Promise.all(this.targets(build.generation, purchase).map(([keys]) => runScript(this.redis, REMOVE, keys, [purchase.orderId])));
    await this.touch([build]);
    return removed.filter((r) => r === 1).length;
  }

  /** Every (sorted set, hash) a purchase counts into, with the members it adds there. */
  private targets(gen: string, p: Purchase): [keys: [string, string], members: string[]][] {
    const out: [[string, string], string[]][] = [];
    for (const { sku, partners } of coPurchases(p)) out.push([[`${this.skuTag(gen, sku)}:also`, `${this.skuTag(gen, sku)}:orders`], partners]);
    const groups = skusByCategory(p);
    for (const [category, skus] of groups) out.push([[`${this.categoryTag(gen, category)}:best`, `${this.categoryTag(gen, category)}:orders`], skus]);
    const all = [...new Set(p.lines.map((l) => l.sku))].sort();
    if (all.length > 0) out.push([[`${this.categoryTag(gen, ALL_CATEGORIES)}:best`, `${this.categoryTag(gen, ALL_CATEGORIES)}:orders`], all]);
    return out;
  }

  /** The top `n` partners of a sku, by raw score (the order of the decayed score). */
  async alsoBought(build: RecommendationBuild, sku: string, n: number): Promise<ScoredSku[]> {
    return this.top(`${this.skuTag(build.generation, sku)}:also`, n);
  }

  /** The top `n` sellers of a category (null: the uncategorised), or of every category. */
  async bestsellers(build: RecommendationBuild, category: string | null | 'all', n: number): Promise<ScoredSku[]> {
    return this.top(`${this.categoryTag(build.generation, category === 'all' ? ALL_CATEGORIES : category)}:best`, n);
  }

  private async top(key: string, n: number): Promise<ScoredSku[]> {
    const flat = await this.redis.zrevrange(key, 0, n - 1, 'WITHSCORES');
    const out: ScoredSku[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ sku: flat[i] as string, raw: Number(flat[i + 1]) });
    return out;
  }

  private ownerTag(gen: string, owner: AnswerOwner): string {
    return 'sku' in owner ? this.skuTag(gen, owner.sku) : this.categoryTag(gen, owner.category === 'all' ? ALL_CATEGORIES : owner.category);
  }

  private ownerSet(gen: string, owner: AnswerOwner): string {
    return `${this.ownerTag(gen, owner)}:${'sku' in owner ? 'also' : 'best'}`;
  }

  /** The sorted sets precomputed answers are built from, each read once (top ANSWER_DEPTH). */
  async answerSources(build: RecommendationBuild, owners: AnswerOwner[]): Promise<AnswerSource[]> {
    return Promise.all(
      owners.map(async (owner) => {
        const flat = await this.redis.zrevrange(this.ownerSet(build.generation, owner), 0, ANSWER_DEPTH - 1, 'WITHSCORES');
        const scored: ScoredSku[] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) scored.push({ sku: flat[i] as string, raw: Number(flat[i + 1]) });
        return { owner, flat, scored };
      }),
    );
  }

  /**
   * Stores the answers built from `answerSources` beside their sorted sets (same hash tag); one
   * whose set changed since it was read is not written (the writer of that change writes its own).
   * An empty set deletes its answer. Returns how many were written.
   */
  async storeAnswers(build: RecommendationBuild, answers: { source: AnswerSource; answer: StoredAnswer }[]): Promise<number> {
    const written = await Promise.all(
      answers.map(({ source, answer }) =>
        runScript(this.redis, STORE_ANSWER, [this.ownerSet(build.generation, source.owner), `${this.ownerTag(build.generation, source.owner)}:answer`], [String(ANSWER_DEPTH), source.flat.join('\t'), JSON.stringify(answer)]),
      ),
    );
    return written.filter((w) => w === 1).length;
  }

  /** The precomputed answers of a sku and of a category (`all`: every category), read in parallel: one round trip. */
  async answers(generation: string, sku: string, category: string | 'all'): Promise<[StoredAnswer | null, StoredAnswer | null]> {
    const read = (owner: AnswerOwner) => this.redis.get(`${this.ownerTag(generation, owner)}:answer`).then((raw) => (raw ? (JSON.parse(raw) as StoredAnswer) : null));
    return Promise.all([read({ sku }), read({ category })]);
  }

  /** The stored answers of some owners (`ownerId`s) as JSON, null where there is none: one round trip (parallel GETs). */
  async rawAnswers(generation: string, owners: string[]): Promise<(string | null)[]> {
    return Promise.all(owners.map((id) => this.redis.get(`${this.ownerTag(generation, ownerOf(id))}:answer`)));
  }

  /** Moves the published (and building) generations' version, recording whose answers changed: readers re-read those. */
  async markChanged(builds: RecommendationBuild[], owners: AnswerOwner[] = []): Promise<void> {
    await this.touch(builds, owners);
  }

  /** Every member and raw score of a sku's co-purchase set (tests compare generations with it). */
  async alsoBoughtAll(build: RecommendationBuild, sku: string): Promise<ScoredSku[]> {
    return this.top(`${this.skuTag(build.generation, sku)}:also`, 1_000_000);
  }

  /**
   * Deletes the keys of every generation that is neither current nor being built: the one a
   * publish replaced (after a grace, so a reader holding the old pointer still finds its
   * set) and any left by a build that was terminated. Scans every master of a cluster.
   */
  async dropStaleGenerations(): Promise<{ generations: string[]; keys: number }> {
    const [current, building] = await Promise.all([this.current(), this.building()]);
    const keep = new Set([current?.generation, building?.generation].filter((g): g is string => !!g));
    const nodes: Redis[] = this.redis.isCluster ? (this.redis as Cluster).nodes('master') : [this.redis as Redis];
    const dropped = new Set<string>();
    let keys = 0;
    const pattern = `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}{*`;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        const stale = batch.filter((key) => {
          const gen = /^\{([^:}]+)[:}]/.exec(key.slice(this.prefix.length))?.[1];
          if (!gen || gen === 'ptr' || keep.has(gen)) return false;
          dropped.add(gen);
          return true;
        });
        if (stale.length > 0) keys += await Promise.all(stale.map((k) => node.unlink(k))).then((r) => r.reduce((a, b) => a + b, 0));
      } while (cursor !== '0');
    }
    const counted = await this.redis.hkeys(this.versions());
    const retired = counted.filter((gen) => !keep.has(gen));
    if (retired.length > 0) {
      await this.redis.hdel(this.versions(), ...retired);
      await this.redis.hdel(this.recorded(), ...retired);
      await Promise.all(retired.map((gen) => this.redis.unlink(this.changes(gen))));
    }
    return { generations: [...dropped], keys };
  }
}
