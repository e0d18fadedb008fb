import { randomBytes } from 'node:crypto';
import type { RedisClient as Redis } from '../redis';
import type { Config } from '../../config';

/**
 * Circuit breakers whose state lives in Redis, so every API and worker process sees the same
 * breaker (docs/architecture.md, "Circuit breakers", says why not a per-process library).
 *
 *   closed ──N outage failures within the window──▶ open ──cool-down over──▶ half_open (one probe)
 *   half_open ──probe succeeds──▶ closed            half_open ──probe fails──▶ open again
 *
 * Each decision is one Lua script on Redis's clock, so concurrent callers in any process agree:
 * one failure counted once, one probe at a time. A success in the closed state costs nothing
 * beyond the admission check. Only outage-type failures count (the caller says which); a
 * declined card or a refusal is an answer, not an outage.
 */

export type BreakerName = 'payment_gateway' | 'smtp' | 'search';
export const BREAKER_NAMES: readonly BreakerName[] = ['payment_gateway', 'smtp', 'search'];
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSnapshot {
  name: BreakerName;
  state: BreakerState;
  /** Outage failures counted in the current window (closed state). */
  failures: number;
  /** How long until a call may be tried again (0 when calls go through). */
  retryAfterMs: number;
  /** How many times it opened since it last closed after a probe. */
  opens: number;
}

export interface BreakerSettings {
  failureThreshold: number;
  windowMs: number;
  cooldownMs: number;
  /** How long a probe may take before another caller may probe (a probe whose process died). */
  probeLeaseMs: number;
}

/** Thrown when the breaker refuses a call; wrappers turn it into their own outage error. */
export class CircuitOpenError extends Error {
  readonly circuitOpen = true;
  constructor(
    readonly breaker: BreakerName,
    readonly retryAfterMs: number,
  ) {
    super(`${breaker} circuit is open: failing fast (retry in ${Math.ceil(retryAfterMs / 1000)} s)`);
    this.name = 'CircuitOpenError';
  }
}

/** A refusal by a breaker, whatever error class its wrapper dressed it in. */
export function isCircuitOpen(err: unknown): err is Error & { circuitOpen: true; retryAfterMs: number } {
  return err instanceof Error && (err as { circuitOpen?: unknown }).circuitOpen === true;
}

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: state hash, failures zset. ARGV: probeLeaseMs, probeId. → { verdict, retryAfterMs } */
const ADMIT = `${NOW}
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return {'closed', 0} end
local openUntil = tonumber(redis.call('HGET', KEYS[1], 'openUntil') or '0')
if state == 'open' and now < openUntil then return {'open', openUntil - now} end
local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'probeUntil') or '0')
if state == 'half_open' and now < probeUntil then return {'half_open', probeUntil - now} end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probeUntil', now + tonumber(ARGV[1]), 'probeId', ARGV[2])
return {'probe', 0}`;

/**
 * KEYS: state hash, failures zset. ARGV: outcome (success|failure), probeId ('' = not a probe),
 * threshold, windowMs, cooldownMs, member. → the state after.
 */
const RECORD = `${NOW}
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local function open()
  redis.call('HSET', KEYS[1], 'state', 'open', 'openUntil', now + tonumber(ARGV[5]), 'openedAt', now)
  redis.call('HDEL', KEYS[1], 'probeUntil', 'probeId')
  redis.call('HINCRBY', KEYS[1], 'opens', 1)
  redis.call('DEL', KEYS[2])
  return 'open'
end
if ARGV[2] ~= '' then
  if redis.call('HGET', KEYS[1], 'probeId') ~= ARGV[2] then return state end
  if ARGV[1] == 'success' then
    redis.call('DEL', KEYS[1], KEYS[2])
    return 'closed'
  end
  return open()
end
if ARGV[1] == 'success' or state ~= 'closed' then return state end
redis.call('ZADD', KEYS[2], now, ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return open() end
return 'closed'`;

/** KEYS: state hash, failures zset. ARGV: windowMs. → { state, failures, retryAfterMs, opens } */
const SNAPSHOT = `${NOW}
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local opens = tonumber(redis.call('HGET', KEYS[1], 'opens') or '0')
local failures = redis.call('ZCOUNT', KEYS[2], now - tonumber(ARGV[1]), '+inf')
local retry = 0
if state == 'open' then
  retry = math.max(0, tonumber(redis.call('HGET', KEYS[1], 'openUntil') or '0') - now)
elseif state == 'half_open' then
  retry = math.max(0, tonumber(redis.call('HGET', KEYS[1], 'probeUntil') or '0') - now)
end
return {state, failures, retry, opens}`;

/** Redis must answer the breaker this fast; otherwise the call goes through (fail open). */
const REDIS_BUDGET_MS = 250;
const CALL_MARK_MS = 7 * 24 * 3_600_000;

export interface CallOptions {
  /** Which failures are outages (counted); anything else is an answer and passes through. */
  isOutage: (err: unknown) => boolean;
  /** A call slower than this is abandoned as an outage and `onTimeout`'s error is thrown. */
  timeoutMs?: number;
  onTimeout?: () => Error;
  /** The error the caller sees when the breaker refuses (default: the CircuitOpenError). */
  onOpen?: (refusal: CircuitOpenError) => Error;
  /** Runs once the call is admitted, right before it; if it throws, the call is not made. */
  beforeCall?: () => Promise<void>;
}

/** One named breaker of one deployment (its keys carry the deployment's namespace). */
export class CircuitBreaker {
  private readonly keys: [string, string];
  /** Call marks spread over the cluster (no hash tag): one per checkout, kept a week. */
  private readonly callPrefix: string;

  constructor(
    private readonly redis: Redis,
    readonly name: BreakerName,
    namespace: string,
    readonly settings: BreakerSettings,
    private readonly onRedisError: (err: unknown) => void = () => undefined,
  ) {
    // One hash tag: both keys of a breaker live in one Redis Cluster slot.
    const tag = `{breaker:${namespace}:${name}}`;
    this.keys = [`${tag}:state`, `${tag}:failures`];
    this.callPrefix = `breaker-call:${namespace}:${name}:`;
  }

  /** Runs `call` unless the breaker is open; counts its outage failures; a probe decides the state. */
  async run<T>(call: () => Promise<T>, options: CallOptions): Promise<T> {
    const admission = await this.admit();
    if (admission.verdict === 'open' || admission.verdict === 'half_open') {
      const refusal = new CircuitOpenError(this.name, admission.retryAfterMs);
      throw options.onOpen ? options.onOpen(refusal) : refusal;
    }
    const probeId = admission.verdict === 'probe' ? admission.probeId : '';
    // A probe whose call never happens keeps its lease until it runs out (probeLeaseMs).
    await options.beforeCall?.();
    let result: T;
    try {
      result = await withTimeout(call(), options);
    } catch (err) {
      const outage = err instanceof CallTimeoutError || options.isOutage(err);
      // An answer (a decline, a refusal) proves the service is up: a probe that got one closes it.
      if (outage || probeId) await this.record(outage ? 'failure' : 'success', probeId);
      throw err instanceof CallTimeoutError ? (options.onTimeout?.() ?? err) : err;
    }
    if (probeId) await this.record('success', probeId);
    return result;
  }

  /**
   * Whether a call would be refused right now, without taking the probe: what the API asks
   * before it starts a checkout. `undefined` = calls go through (closed, or a probe is due).
   */
  async refusal(): Promise<CircuitOpenError | undefined> {
    const s = await this.snapshot();
    if (s.state === 'open' && s.retryAfterMs > 0) return new CircuitOpenError(this.name, s.retryAfterMs);
    if (s.state === 'half_open' && s.retryAfterMs > 0) return new CircuitOpenError(this.name, Math.min(s.retryAfterMs, 1_000));
    return undefined;
  }

  async snapshot(): Promise<BreakerSnapshot> {
    const [state, failures, retryAfterMs, opens] = (await this.bounded(() =>
      this.redis.eval(SNAPSHOT, 2, ...this.keys, this.settings.windowMs),
    )) as [BreakerState, number, number, number];
    return { name: this.name, state, failures, retryAfterMs, opens };
  }

  /**
   * What became of one call (by its idempotency key) at this breaker: `dispatched` once any
   * attempt was let through, `refused` when the breaker refused it and none ever was. A
   * compensation may skip asking the service about a call that is `refused` (it never reached
   * it); anything else, a lost mark included, means "ask". Kept a week (longer than any
   * checkout's compensation).
   */
  async markCall(callKey: string, fate: 'dispatched' | 'refused'): Promise<void> {
    const key = this.callPrefix + callKey;
    // `refused` never overwrites `dispatched`; `dispatched` always wins.
    await this.bounded(() => (fate === 'refused' ? this.redis.set(key, fate, 'PX', CALL_MARK_MS, 'NX') : this.redis.set(key, fate, 'PX', CALL_MARK_MS)));
  }

  async callFate(callKey: string): Promise<'dispatched' | 'refused' | undefined> {
    const value = await this.bounded(() => this.redis.get(this.callPrefix + callKey));
    return value === 'dispatched' || value === 'refused' ? value : undefined;
  }

  /** Back to closed, counts forgotten (tests, and an operator who knows the service is back). */
  async reset(): Promise<void> {
    await this.redis.del(...this.keys);
  }

  private async admit(): Promise<{ verdict: 'closed' | 'open' | 'half_open'; retryAfterMs: number } | { verdict: 'probe'; probeId: string }> {
    const probeId = randomBytes(8).toString('hex');
    try {
      const [verdict, retryAfterMs] = (await this.bounded(() =>
        this.redis.eval(ADMIT, 2, ...this.keys, this.settings.probeLeaseMs, probeId),
      )) as ['closed' | 'open' | 'half_open' | 'probe', number];
      return verdict === 'probe' ? { verdict, probeId } : { verdict, retryAfterMs };
    } catch (err) {
      // Without Redis the breaker cannot decide: let the call through rather than refuse it.
      this.onRedisError(err);
      return { verdict: 'closed', retryAfterMs: 0 };
    }
  }

  private async record(outcome: 'success' | 'failure', probeId: string): Promise<void> {
    const { failureThreshold, windowMs, cooldownMs } = this.settings;
    const member = `${Date.now()}:${randomBytes(6).toString('hex')}`;
    await this.bounded(() =>
      this.redis.eval(RECORD, 2, ...this.keys, outcome, probeId, failureThreshold, windowMs, cooldownMs, member),
    ).catch((err: unknown) => this.onRedisError(err));
  }

  private bounded<T>(command: () => Promise<T>): Promise<T> {
    return withTimeout(command(), { timeoutMs: REDIS_BUDGET_MS });
  }
}

class CallTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'CallTimeoutError';
  }
}

/** The call's result, or a CallTimeoutError after `timeoutMs` (the call's own late outcome is dropped). */
function withTimeout<T>(pending: Promise<T>, options: { timeoutMs?: number }): Promise<T> {
  const ms = options.timeoutMs;
  if (!ms) return pending;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CallTimeoutError(ms)), ms);
  });
  pending.catch(() => undefined);
  return Promise.race([pending, late]).finally(() => clearTimeout(timer));
}

/** The deployment's three breakers, built from config on one Redis connection. */
export class CircuitBreakers {
  readonly paymentGateway: CircuitBreaker;
  readonly smtp: CircuitBreaker;
  readonly search: CircuitBreaker;

  constructor(redis: Redis, circuit: Config['circuit'], onRedisError?: (err: unknown) => void) {
    const base = { failureThreshold: circuit.failureThreshold, windowMs: circuit.windowMs, cooldownMs: circuit.cooldownMs };
    const make = (name: BreakerName, probeLeaseMs: number, cooldownMs = base.cooldownMs) =>
      new CircuitBreaker(redis, name, circuit.namespace, { ...base, cooldownMs, probeLeaseMs }, onRedisError);
    // A probe holds its lease as long as its call may take: the gateway's own timeout, SMTP's
    // slowest send (activities/gateways/mailer.ts), a search well past its timeout.
    this.paymentGateway = make('payment_gateway', circuit.gatewayTimeoutMs + 1_000);
    this.smtp = make('smtp', 60_000);
    this.search = make('search', 5_000, circuit.searchCooldownMs);
  }

  all(): CircuitBreaker[] {
    return [this.paymentGateway, this.smtp, this.search];
  }

  /** Every breaker's state, for /health and metrics; a breaker Redis cannot tell about is `unknown`. */
  async states(): Promise<(BreakerSnapshot | { name: BreakerName; state: 'unknown' })[]> {
    return Promise.all(this.all().map((b) => b.snapshot().catch(() => ({ name: b.name, state: 'unknown' as const }))));
  }
}

/** All breaker states of the deployment `circuit` names (for a metrics exporter). */
export function circuitBreakerStates(redis: Redis, circuit: Config['circuit']): ReturnType<CircuitBreakers['states']> {
  return new CircuitBreakers(redis, circuit).states();
}
