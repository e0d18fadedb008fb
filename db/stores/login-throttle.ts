import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../config';
import type { RedisClient } from '../redis';

/**
 * Login throttling, in Redis so every API process counts together (rate-limiter-flexible's
 * atomic counters). Per client IP every attempt counts; per account (the email, lower case)
 * only failed ones, and a success clears them, so an owner who types the password right is not
 * locked out by their own earlier typos — only a guesser is. Either limit reached: refused
 * with the seconds until the window frees a slot.
 */
export class LoginThrottle {
  private readonly perIp: RateLimiterRedis;
  private readonly perAccount: RateLimiterRedis;

  constructor(redis: RedisClient, limits: Config['customers']['login'], namespace: string) {
    const common = { storeClient: redis, duration: limits.windowSeconds };
    this.perIp = new RateLimiterRedis({ ...common, keyPrefix: `login-ip:${namespace}`, points: limits.attemptsPerIp });
    this.perAccount = new RateLimiterRedis({ ...common, keyPrefix: `login-account:${namespace}`, points: limits.failuresPerAccount });
  }

  /** Counts this attempt against the IP; the seconds to wait when the IP or the account is over its limit. */
  async admit(ip: string, email: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
    try {
      await this.perIp.consume(ip);
    } catch (err) {
      if (err instanceof RateLimiterRes) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1000)) };
      throw err;
    }
    const account = await this.perAccount.get(email.toLowerCase());
    if (account && account.consumedPoints >= this.perAccountPoints()) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(account.msBeforeNext / 1000)) };
    return { ok: true };
  }

  async failed(email: string): Promise<void> {
    await this.perAccount.penalty(email.toLowerCase(), 1);
  }

  async succeeded(email: string): Promise<void> {
    await this.perAccount.delete(email.toLowerCase());
  }

  private perAccountPoints(): number {
    return this.perAccount.points;
  }
}
