import { createHash } from 'node:crypto';
import { and, between, eq, isNotNull, sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Config } from '../../config';
import type { Db } from '../client';
import { randomId } from '../ids';
import { carts, type CartLineRecord } from '../schema/cart';

export interface StoredCart {
  id: string;
  currency: string;
  email?: string;
  customerId?: string;
  lines: CartLineRecord[];
  version: number;
  createdAt: string;
  updatedAt: string;
  /** The checkout running on this cart and until when (ms) it holds the cart (Redis only). */
  checkoutId?: string;
  lockedUntil?: number;
}

export class TooManyLinesError extends Error {}

/** A checkout of this cart is running: its lines cannot change until it ends. */
export class CartLockedError extends Error {
  constructor(readonly checkoutId: string) {
    super(`checkout ${checkoutId} of this cart is running`);
  }
}

const shas = new Map<string, string>();
const sha1 = (script: string): string => {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  return sha;
};

/** The line's product is priced in another currency than the cart. */
export class CurrencyMismatchError extends Error {
  constructor(readonly cartCurrency: string) {
    super(`the cart is in ${cartCurrency}`);
  }
}

/**
 * Changes one line atomically inside Redis: the whole cart is one JSON value, so two
 * concurrent writers never lose each other's lines. Returns nil when the key is missing
 * (expired, flushed): the caller restores it from Postgres and tries again. ARGV[6], when
 * not empty, is the line's currency: a cart in another one refuses the line (so the API
 * needs no separate read of the cart first).
 */
const SET_LINE = `
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
if cart.checkoutId and tonumber(cart.lockedUntil or 0) > tonumber(ARGV[7]) then return redis.error_reply('CHECKOUT_IN_PROGRESS ' .. tostring(cart.checkoutId)) end
if ARGV[6] ~= '' and cart.currency ~= ARGV[6] then return redis.error_reply('CURRENCY_MISMATCH ' .. tostring(cart.currency)) end
local sku, qty, maxLines, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lines, found = {}, false
if type(cart.lines) == 'table' then
  for _, l in ipairs(cart.lines) do
    if l.sku == sku then
      found = true
      if qty > 0 then table.insert(lines, { sku = sku, quantity = qty }) end
    else
      table.insert(lines, l)
    end
  end
end
-- Removing a line the cart does not have changes nothing: no new version, no write.
if not found and qty == 0 then return raw end
if not found then
  if #lines >= maxLines then return redis.error_reply('TOO_MANY_LINES') end
  table.insert(lines, { sku = sku, quantity = qty })
end
cart.lines = lines
cart.version = cart.version + 1
cart.updatedAt = ARGV[5]
local out = cjson.encode(cart)
redis.call('SET', KEYS[1], out, 'EX', ttl)
return out
`;

/** Empties a cart (after a checkout) without touching its identity. */
const CLEAR = `
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
cart.lines = {}
cart.checkoutId = nil
cart.lockedUntil = nil
cart.version = cart.version + 1
cart.updatedAt = ARGV[2]
local out = cjson.encode(cart)
redis.call('SET', KEYS[1], out, 'EX', tonumber(ARGV[1]))
return out
`;

/**
 * A checkout takes the cart for itself (until a deadline, so a lock whose checkout died
 * ends by itself); another live checkout's lock is left alone and named in the answer.
 */
const LOCK = `
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
if cart.checkoutId and cart.checkoutId ~= ARGV[1] and tonumber(cart.lockedUntil or 0) > tonumber(ARGV[3]) then return cart.checkoutId end
cart.checkoutId = ARGV[1]
cart.lockedUntil = tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(cart), 'KEEPTTL')
return ARGV[1]
`;

/** Ends the lock of one checkout (a failed one); another checkout's lock is left alone. */
const UNLOCK = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local cart = cjson.decode(raw)
if cart.checkoutId ~= ARGV[1] then return 0 end
cart.checkoutId = nil
cart.lockedUntil = nil
redis.call('SET', KEYS[1], cjson.encode(cart), 'KEEPTTL')
return 1
`;

const key = (id: string) => `cart:${id}`;

function decode(raw: string): StoredCart {
  const cart = JSON.parse(raw) as StoredCart;
  // cjson encodes an empty Lua table as {}, not [].
  if (!Array.isArray(cart.lines)) cart.lines = [];
  return cart;
}

/**
 * Carts: Redis is the primary store (with a TTL); every write is also kept in Postgres,
 * newest version wins, so a cart survives a Redis flush or restart (read-through restore).
 */
export class CartStore {
  constructor(
    private readonly redis: Redis,
    private readonly db: Db,
    private readonly options: Config['cart'],
  ) {}

  async create(input: { currency: string; email?: string; customerId?: string }): Promise<StoredCart> {
    const now = new Date().toISOString();
    const cart: StoredCart = { id: randomId('cart'), currency: input.currency, lines: [], version: 1, createdAt: now, updatedAt: now };
    if (input.email) cart.email = input.email;
    if (input.customerId) cart.customerId = input.customerId;
    await this.persist(cart);
    await this.redis.set(key(cart.id), JSON.stringify(cart), 'EX', this.options.ttlSeconds, 'NX');
    return cart;
  }

  async get(id: string): Promise<StoredCart | null> {
    const raw = await this.redis.get(key(id));
    if (raw) return decode(raw);
    return this.restore(id);
  }

  /**
   * Sets a line's quantity (0 removes it). Null when there is no such cart. `alongside` runs
   * on the changed cart while its PostgreSQL backup is written (the API prices it meanwhile);
   * the call returns once both are done, so the backup is never behind the answer.
   */
  async setLine(id: string, sku: string, quantity: number): Promise<StoredCart | null>;
  async setLine<T>(
    id: string,
    sku: string,
    quantity: number,
    alongside: (cart: StoredCart) => Promise<T>,
    opts?: { currency?: string },
  ): Promise<{ cart: StoredCart; alongside: T } | null>;
  async setLine<T>(id: string, sku: string, quantity: number, alongside?: (cart: StoredCart) => Promise<T>, opts: { currency?: string } = {}) {
    const now = new Date();
    const args = [sku, String(quantity), String(this.options.maxLines), String(this.options.ttlSeconds), now.toISOString(), opts.currency ?? '', String(now.getTime())];
    const changed = await this.mutate(id, () => this.eval(SET_LINE, id, args), alongside);
    if (!changed) return null;
    return alongside ? changed : changed.cart;
  }

  async clear(id: string): Promise<StoredCart | null> {
    return (await this.mutate(id, () => this.eval(CLEAR, id, [String(this.options.ttlSeconds), new Date().toISOString()])))?.cart ?? null;
  }

  /**
   * Locks the cart for a checkout until `untilMs`: cart writes answer CartLockedError
   * meanwhile. Returns the checkout holding the lock (another one's, if it is still live),
   * or null when there is no such cart.
   */
  async lock(id: string, checkoutId: string, untilMs: number): Promise<string | null> {
    const run = () => this.eval(LOCK, id, [checkoutId, String(untilMs), String(Date.now())]);
    const holder = (await run()) ?? ((await this.restore(id)) ? await run() : null);
    return holder;
  }

  async unlock(id: string, checkoutId: string): Promise<void> {
    await this.eval(UNLOCK, id, [checkoutId]);
  }

  /** EVALSHA (the script is not sent each time); EVAL once when Redis does not have it (restarted, flushed). */
  private async eval(script: string, id: string, args: string[]): Promise<string | null> {
    try {
      try {
        return (await this.redis.evalsha(sha1(script), 1, key(id), ...args)) as string | null;
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
        return (await this.redis.eval(script, 1, key(id), ...args)) as string | null;
      }
    } catch (err) {
      if (err instanceof Error && err.message.includes('TOO_MANY_LINES')) {
        throw new TooManyLinesError(`a cart holds at most ${this.options.maxLines} lines`);
      }
      const locked = err instanceof Error ? /CHECKOUT_IN_PROGRESS (\S+)/.exec(err.message) : null;
      if (locked) throw new CartLockedError(locked[1] as string);
      const mismatch = err instanceof Error ? /CURRENCY_MISMATCH (\S+)/.exec(err.message) : null;
      if (mismatch) throw new CurrencyMismatchError(mismatch[1] as string);
      throw err;
    }
  }

  private async mutate<T>(id: string, run: () => Promise<string | null>, alongside?: (cart: StoredCart) => Promise<T>): Promise<{ cart: StoredCart; alongside: T } | null> {
    let raw = await run();
    if (raw === null) {
      if (!(await this.restore(id))) return null;
      raw = await run();
      if (raw === null) return null;
    }
    const cart = decode(raw);
    const [, extra] = await Promise.all([this.persist(cart), alongside ? alongside(cart) : (undefined as T)]);
    return { cart, alongside: extra };
  }

  /** Copies the Postgres backup into Redis, unless someone else already did. */
  private async restore(id: string): Promise<StoredCart | null> {
    const [row] = await this.db.select().from(carts).where(eq(carts.id, id));
    if (!row || row.expiresAt.getTime() <= Date.now()) return null;
    const cart: StoredCart = {
      id: row.id,
      currency: row.currency,
      lines: row.lines,
      version: row.version,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
    if (row.email) cart.email = row.email;
    if (row.customerId) cart.customerId = row.customerId;
    const ttl = Math.max(1, Math.ceil((row.expiresAt.getTime() - Date.now()) / 1000));
    const stored = await this.redis.set(key(id), JSON.stringify(cart), 'EX', ttl, 'NX');
    if (stored) return cart;
    const raw = await this.redis.get(key(id));
    return raw ? decode(raw) : cart;
  }

  /** Upserts the snapshot; an older version never overwrites a newer one. */
  private async persist(cart: StoredCart): Promise<void> {
    const expiresAt = new Date(Date.parse(cart.updatedAt) + this.options.ttlSeconds * 1000);
    const row = {
      id: cart.id,
      currency: cart.currency,
      email: cart.email ?? null,
      customerId: cart.customerId ?? null,
      lines: cart.lines,
      version: cart.version,
      createdAt: new Date(cart.createdAt),
      updatedAt: new Date(cart.updatedAt),
      expiresAt,
    };
    await this.db
      .insert(carts)
      .values(row)
      .onConflictDoUpdate({
        target: carts.id,
        set: { lines: row.lines, version: row.version, updatedAt: row.updatedAt, expiresAt: row.expiresAt, email: row.email },
        setWhere: sql`${carts.version} < excluded.version`,
      });
  }
}

/** Backed-up carts with an email and lines whose last change falls in [from, to]. */
export async function recoverableCarts(db: Db, from: Date, to: Date, limit: number): Promise<{ id: string; version: number; updatedAt: Date }[]> {
  return db
    .select({ id: carts.id, version: carts.version, updatedAt: carts.updatedAt })
    .from(carts)
    .where(and(isNotNull(carts.email), sql`jsonb_array_length(${carts.lines}) > 0`, between(carts.updatedAt, from, to)))
    .orderBy(carts.updatedAt)
    .limit(limit);
}
