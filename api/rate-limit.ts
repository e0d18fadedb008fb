import { clientAddress } from './client-address';
import type { Request, RequestHandler, Response } from 'express';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitPolicyConfig, RateLimitsConfig } from '../config';
import type { RedisClient } from '../db/redis';
import type { Logger } from '../logger';
import { AppError } from './errors';

/**
 * Rate limits shared by every API process: counters in Redis (rate-limiter-flexible's
 * RateLimiterRedis: one atomic Lua INCR+PEXPIRE per request and policy, a single key, so it runs
 * on an ioredis Cluster as well). An exhausted policy answers 429 `rate_limited` with
 * Retry-After. Headers follow draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy` lists
 * the policies that applied, `RateLimit` the one closest to its limit.
 *
 * Redis unreachable: fail open with an in-memory insurance limiter per process (the same
 * quota, counted per process), so an outage neither turns requests into 500s nor lifts the
 * limits entirely. While the client is not connected the insurance answers at once
 * (rejectIfRedisNotReady) instead of waiting for ioredis' retries.
 */

export type PolicyName = 'ip' | 'customer' | 'cart-email' | 'checkout';

interface Policy {
  name: PolicyName;
  limiter: RateLimiterRedis;
  config: RateLimitPolicyConfig;
}

interface Outcome {
  policy: Policy;
  res: RateLimiterRes;
  allowed: boolean;
}

/** Who a request counts against: the logged-in customer (api/customer-auth.ts sets it), else the client address. */
export function clientKey(req: Request, res: Response): string {
  const customerId = (res.locals as { customer?: { id?: unknown } }).customer?.id;
  if (typeof customerId === 'string' && customerId !== '') return `customer:${customerId}`;
  return `ip:${clientAddress(req)}`;
}

export interface RateLimits {
  /** Every request: per client IP, and per customer when one is logged in. */
  general: RequestHandler;
  /** POST /carts with an email (each such cart may be mailed reminders). */
  cartWithEmail: RequestHandler;
  /** POST /checkouts. */
  checkout: RequestHandler;
}

/** A request counts once per policy, also if a handler is mounted on two paths it passes. */
function counted(res: Response, policy: PolicyName): boolean {
  const seen = ((res.locals.rateLimitPolicies as Set<PolicyName> | undefined) ??= new Set<PolicyName>());
  if (seen.has(policy)) return true;
  seen.add(policy);
  return false;
}

const pass: RequestHandler = (_req, _res, next) => next();

export function createRateLimits(config: RateLimitsConfig, redis: RedisClient, logger: Logger): RateLimits {
  if (!config.enabled) return { general: pass, cartWithEmail: pass, checkout: pass };
  const make = (name: PolicyName, policy: RateLimitPolicyConfig): Policy => ({
    name,
    config: policy,
    limiter: new RateLimiterRedis({
      storeClient: redis,
      // one hash tag per counter key is not needed: each Lua call touches exactly one key
      keyPrefix: `${config.namespace}:rl:${name}`,
      points: policy.points,
      duration: policy.durationSeconds,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ points: policy.points, duration: policy.durationSeconds }),
    }),
  });
  const ip = make('ip', config.ip);
  const customer = make('customer', config.customer);
  const cartEmail = make('cart-email', config.cartEmail);
  const checkout = make('checkout', config.checkout);

  let warned = 0;
  const consume = async (policy: Policy, key: string): Promise<Outcome> => {
    try {
      return { policy, res: await policy.limiter.consume(key), allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { policy, res: rejection, allowed: false };
      // Neither Redis nor the insurance answered: fail open, loudly but not on every request.
      if (Date.now() - warned > 10_000) {
        warned = Date.now();
        logger.warn({ err: rejection, policy: policy.name }, 'rate limiter unavailable; request let through');
      }
      return { policy, res: new RateLimiterRes(policy.config.points, 0, 0), allowed: true };
    }
  };

  const handler =
    (choose: (req: Request, res: Response) => [Policy, string][]): RequestHandler =>
    async (req, res, next) => {
      const chosen = choose(req, res).filter(([policy]) => !counted(res, policy.name));
      if (chosen.length === 0) return next();
      const outcomes = await Promise.all(chosen.map(([policy, key]) => consume(policy, key)));
      setHeaders(res, outcomes);
      const refused = outcomes.filter((o) => !o.allowed);
      if (refused.length === 0) return next();
      const retryAfterSeconds = Math.max(1, ...refused.map((o) => Math.ceil(o.res.msBeforeNext / 1000)));
      res.locals.rateLimitPolicy = refused[0]?.policy.name;
      next(new AppError('rate_limited', 'too many requests; try again after Retry-After seconds', { policy: refused[0]?.policy.name, retryAfterSeconds }));
    };

  return {
    general: handler((req, res) => {
      if (req.path === '/health' || req.path.startsWith('/health/')) return [];
      const key = clientKey(req, res);
      const byIp: [Policy, string] = [ip, `ip:${req.ip ?? 'unknown'}`];
      return key.startsWith('customer:') ? [byIp, [customer, key]] : [byIp];
    }),
    cartWithEmail: handler((req, res) => {
      const body = req.body as { email?: unknown } | undefined;
      return req.method === 'POST' && body && typeof body === 'object' && body.email !== undefined ? [[cartEmail, clientKey(req, res)]] : [];
    }),
    checkout: handler((req, res) => (req.method === 'POST' ? [[checkout, clientKey(req, res)]] : [])),
  };
}

/**
 * draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy: "ip";q=600;w=60, …` (every policy
 * the request counted against) and `RateLimit: "ip";r=599;t=60` (the one with the least left).
 * A route's narrower policy is appended to what the general one already set.
 */
function setHeaders(res: Response, outcomes: Outcome[]): void {
  const previousPolicies = res.getHeader('RateLimit-Policy');
  const policies = outcomes.map((o) => `"${o.policy.name}";q=${o.policy.config.points};w=${o.policy.config.durationSeconds}`);
  res.setHeader('RateLimit-Policy', [...(typeof previousPolicies === 'string' ? [previousPolicies] : []), ...policies].join(', '));
  const tightest = outcomes.reduce((a, b) => (b.res.remainingPoints < a.res.remainingPoints ? b : a));
  const previous = res.locals.rateLimitRemaining as number | undefined;
  if (previous === undefined || tightest.res.remainingPoints <= previous) {
    res.locals.rateLimitRemaining = tightest.res.remainingPoints;
    res.setHeader('RateLimit', `"${tightest.policy.name}";r=${tightest.res.remainingPoints};t=${Math.ceil(tightest.res.msBeforeNext / 1000)}`);
  }
}
