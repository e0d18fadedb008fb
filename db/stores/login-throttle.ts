import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../config';
import type { RedisClient } from '../redis';

/** One point of a limiter, or the seconds until it frees one. */
async function consumeOne(limiter: RateLimiterRedis, key: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
  try {
    await limiter.consume(key);
    return { ok: true };
  } catch (err) {
    if (err instanceof RateLimiterRes) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1000)) };
    throw err;
  }
}

/**
 * Login throttling, in Redis so every API process counts together (rate-limiter-flexible's
 * atomic counters). Per client IP every attempt counts; per account (the email, lower case)
 * every password check is counted before it runs, and a success clears the count, so an owner who types the password right is not
 * locked out by their own earlier typos — only a guesser is. Either limit reached: refused
 * with the seconds until the window frees a slot.
 */
export class LoginThrottle {
  private readonly perIp: RateLimiterRedis;
  private readonly perAccount: RateLimiterRedis;
  private readonly registrationsPerIp: RateLimiterRedis;

  constructor(redis: RedisClient, limits: Config['customers']['login'], namespace: string) {
    const common = { storeClient: redis, duration: limits.windowSeconds };
    this.perIp = new RateLimiterRedis({ ...common, keyPrefix: `login-ip:${namespace}`, points: limits.attemptsPerIp });
    this.perAccount = new RateLimiterRedis({ ...common, keyPrefix: `login-account:${namespace}`, points: limits.failuresPerAccount });
    this.registrationsPerIp = new RateLimiterRedis({ ...common, keyPrefix: `register-ip:${namespace}`, points: limits.registrationsPerIp });
  }

  /**
   * Counts this attempt against the IP and, before the password is verified, against the
   * account (one atomic increment: concurrent guesses cannot all pass a read of the count); the
   * seconds to wait when either is over its limit. A correct password gives the account's back
   * (succeeded), so only failures stay counted.
   */
  async admit(ip: string, email: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
    const byIp = await consumeOne(this.perIp, ip);
    return byIp.ok ? this.admitAccount(email) : byIp;
  }

  /** Counts a registration (an expensive password hash) against the client IP. */
  async admitRegistration(ip: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
    return consumeOne(this.registrationsPerIp, ip);
  }

  /** Counts one password check against the account (login, password change), before it runs. */
  async admitAccount(email: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
    return consumeOne(this.perAccount, email.toLowerCase());
  }

  async succeeded(email: string): Promise<void> {
    await this.perAccount.delete(email.toLowerCase());
  }
}
