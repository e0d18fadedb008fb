import { randomBytes } from 'node:crypto';
import { and, asc, between, desc, eq, gt, isNotNull, sql } from 'drizzle-orm';
import type { Config } from '../../config';
import type { Db } from '../client';
import type { RedisClient } from '../redis';
import { randomId } from '../ids';
import { carts, recoverySweep, type CartLineRecord } from '../schema/cart';
import { awaitReplicas, CLAIM, CLEAR, CLEAR_CHECKOUT, DELETE_IF_UNCHANGED, followingMoves, keyNode, LOCK, MERGE_LINES, READ_LEGACY, RECOVERY_MARK, runCartScript, runScript, SET_LINE, UNCLAIM, UNLOCK, type ReplicaAcks } from './cart-scripts';

export { CartLockedError, CartOwnerChangedError, CurrencyMismatchError, NotCartOwnerError, TooManyLinesError } from './cart-scripts';

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
  /** The reminder marker (Redis only; cart-scripts.ts RECOVERY_AFTER_WRITE). */
  recovery?: 'open' | 'later' | 'off';
  /** When the marker was opened (ms): a write after the restart bound re-issues the start (Redis only). */
  recoveryAt?: number;
  /** The last few checkouts whose paid lines were taken out (cart-scripts.ts CLEAR_CHECKOUT; kept in the backup too, so a restored cart does not take them out twice). */
  cleared?: string[];
  /** Set on a write's answer only (never stored): the caller must start or tell the cart's recovery workflow. */
  recoveryKick?: boolean;
}

/** What a recovery run's marker step found (cart-scripts.ts RECOVERY_MARK): the cart's version and last change (ms). */
export interface RecoveryMark {
  stale: boolean;
  version: number;
  updatedAt: number;
}

/**
 * Every key of one cart has the cart id as its hash tag, so all of them live in one slot of a
 * Redis Cluster (one node) and a script may touch any of them. Today a cart is one key.
 */
export const cartKey = (id: string) => `cart:{${id}}`;
/**
 * The name a cart had before the hash tags. A cart found only there is moved to cartKey on
 * its first miss (see moveLegacy); it is in another slot, so never in the same script.
 */
export const legacyCartKey = (id: string) => `cart:${id}`;
const key = cartKey;
/** The lock of one customer's cart claims (customer:{cus_…}: the hash tag of refresh-tokens.ts). */
export const claimLockKey = (customerId: string) => `customer:{${customerId}}:cart-claim`;

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
  private readonly acks: ReplicaAcks;

  /**
   * @param clock when a change happens (ms): a cart's updatedAt, from which its reminders run.
   * The system clock; a time-skipping test passes its test server's.
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly db: Db,
    private readonly options: Config['cart'],
    private readonly clock: () => number = Date.now,
  ) {
    this.acks = { replicas: options.replicaAcks, waitMs: options.replicaWaitMs };
  }

  async create(input: { currency: string; email?: string; customerId?: string }): Promise<StoredCart> {
    const now = new Date(this.clock()).toISOString();
    const cart: StoredCart = { id: randomId('cart'), currency: input.currency, lines: [], version: 1, createdAt: now, updatedAt: now };
    if (input.email) cart.email = input.email;
    if (input.customerId) cart.customerId = input.customerId;
    await this.persist(cart);
    if (this.acks.replicas > 0) {
      await followingMoves(this.redis, async (pipeline) => {
        // after an ASK the pipeline starts with ASKING: the SET's reply is the last but one
        const replies = (await pipeline().set(key(cart.id), JSON.stringify(cart), 'EX', this.options.ttlSeconds, 'NX').wait(this.acks.replicas, this.acks.waitMs).exec()) ?? [];
        const [err] = replies[replies.length - 2] ?? [null];
        if (err) throw err;
        await awaitReplicas(replies[replies.length - 1]?.[1], this.acks, keyNode(pipeline, key(cart.id), this.acks.replicas));
      });
    } else {
      await this.redis.set(key(cart.id), JSON.stringify(cart), 'EX', this.options.ttlSeconds, 'NX');
    }
    return cart;
  }

  async get(id: string): Promise<StoredCart | null> {
    const raw = await this.redis.get(key(id));
    if (raw) return decode(raw);
    return this.restore(id);
  }

  /**
   * Sets a line's quantity (0 removes it); with `currency`, a cart in another currency refuses
   * the line. Null when there is no such cart. Returns once the PostgreSQL backup is written,
   * so the backup is never behind the answer.
   */
  async setLine(id: string, sku: string, quantity: number, opts: { currency?: string; customerId?: string } = {}): Promise<StoredCart | null> {
    return (await this.setLineAlongside(id, sku, quantity, opts, async () => undefined))?.cart ?? null;
  }

  /**
   * setLine, and `alongside` the changed cart (e.g. pricing it for the answer) while its
   * PostgreSQL backup is written, rather than after it: one round trip less in a row. Returns
   * once both are done (the backup is never behind the answer).
   */
  async setLineAlongside<T>(
    id: string,
    sku: string,
    quantity: number,
    opts: { currency?: string; customerId?: string },
    alongside: (cart: StoredCart) => Promise<T>,
  ): Promise<{ cart: StoredCart; alongside: T } | null> {
    const now = new Date(this.clock());
    const args = [sku, String(quantity), String(this.options.maxLines), String(this.options.ttlSeconds), now.toISOString(), opts.currency ?? '', String(now.getTime()), opts.customerId ?? '', String(this.options.recoveryRestartMs)];
    let raw = await this.eval(SET_LINE, id, args);
    if (raw === null) {
      if (!(await this.restore(id))) return null;
      raw = await this.eval(SET_LINE, id, args);
      if (raw === null) return null;
    }
    const cart = decode(raw);
    const [, result] = await Promise.all([this.persist(cart), alongside(cart)]);
    return { cart, alongside: result };
  }

  /**
   * Makes a guest cart the customer's (login's cart claim): NotCartOwnerError when another
   * account owns it, CartLockedError while a checkout of it runs, null when there is no such
   * cart. With `take`, its lines are taken out in the same step and answered as `taken` (to be
   * merged elsewhere); `previous` is the customerId it had. A cart the customer owns already
   * is answered as it is, nothing taken.
   */
  async claim(id: string, customerId: string, opts: { take?: boolean } = {}): Promise<{ cart: StoredCart; taken: CartLineRecord[]; previous?: string } | null> {
    const args = [customerId, new Date().toISOString(), String(Date.now()), opts.take ? '1' : '0'];
    let raw = await this.eval(CLAIM, id, args);
    if (raw === null) {
      if (!(await this.restore(id))) return null;
      raw = await this.eval(CLAIM, id, args);
      if (raw === null) return null;
    }
    const reply = JSON.parse(raw) as { cart: unknown; taken: unknown; previous?: unknown };
    const cart = decode(JSON.stringify(reply.cart));
    await this.persist(cart);
    const taken = Array.isArray(reply.taken) ? (reply.taken as CartLineRecord[]) : [];
    return { cart, taken, ...(typeof reply.previous === 'string' ? { previous: reply.previous } : {}) };
  }

  /**
   * Adds lines to a cart in one step (quantities summed, at most the per-line maximum): all or
   * nothing (TooManyLinesError, CartLockedError, NotCartOwnerError change nothing).
   */
  async mergeLines(id: string, lines: CartLineRecord[], customerId: string, maxPerLine: number): Promise<StoredCart | null> {
    const now = new Date(this.clock());
    const args = [JSON.stringify(lines), String(maxPerLine), String(this.options.maxLines), String(this.options.ttlSeconds), now.toISOString(), String(now.getTime()), customerId];
    return this.mutate(id, () => this.eval(MERGE_LINES, id, args));
  }

  /** Puts a claim's taken lines back and the cart's previous customerId, if the claimer still owns it. */
  async unclaim(id: string, lines: CartLineRecord[], customerId: string, previous: string | undefined, maxPerLine: number): Promise<StoredCart | null> {
    const args = [JSON.stringify(lines), String(maxPerLine), previous ?? '', customerId, new Date().toISOString()];
    return this.mutate(id, () => this.eval(UNCLAIM, id, args));
  }

  /**
   * Serialises the cart claims of one customer (logins with a cartId): a Redis lock with a
   * random token and a TTL (a crashed holder's lock ends by itself) on the customer's hash tag,
   * waited for at most `waitMs`. The release (delete only with our token) is returned, or
   * null when another claim held it the whole time.
   */
  async lockClaims(customerId: string, ttlMs = 15_000, waitMs = 5_000): Promise<(() => Promise<void>) | null> {
    const lockKey = claimLockKey(customerId);
    const token = randomBytes(16).toString('base64url');
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (await this.redis.set(lockKey, token, 'PX', ttlMs, 'NX')) {
        return async () => {
          await runScript(this.redis, DELETE_IF_UNCHANGED, lockKey, [token]);
        };
      }
      if (Date.now() >= deadline) return null;
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 30)));
    }
  }

  async clear(id: string): Promise<StoredCart | null> {
    return this.mutate(id, () => this.eval(CLEAR, id, [String(this.options.ttlSeconds), new Date(this.clock()).toISOString()]));
  }

  /**
   * Takes one paid checkout's lines out of the cart, once per checkout, and ends its lock if the
   * lock is that checkout's (CLEAR_CHECKOUT): a re-run never empties a cart refilled meanwhile.
   */
  async clearCheckout(id: string, checkoutId: string, lines: { sku: string; quantity: number }[]): Promise<StoredCart | null> {
    const paid = JSON.stringify(lines.map((l) => ({ sku: l.sku, quantity: l.quantity })));
    return this.mutate(id, () => this.eval(CLEAR_CHECKOUT, id, [paid, String(this.options.ttlSeconds), new Date(this.clock()).toISOString(), checkoutId]));
  }

  /**
   * Locks the cart for a checkout until `untilMs`: cart writes answer CartLockedError
   * meanwhile. Returns the checkout holding the lock (another one's, if it is still live),
   * or null when there is no such cart. `owner`: the account the checkout is for (none: a
   * guest's); CartOwnerChangedError when the cart's owner is another by now.
   */
  async lock(id: string, checkoutId: string, untilMs: number, owner?: string): Promise<string | null> {
    const run = () => this.eval(LOCK, id, [checkoutId, String(untilMs), String(Date.now()), owner ?? '']);
    const holder = (await run()) ?? ((await this.restore(id)) ? await run() : null);
    return holder;
  }

  async unlock(id: string, checkoutId: string): Promise<void> {
    await this.eval(UNLOCK, id, [checkoutId]);
  }

  /**
   * Moves the cart's reminder marker for its recovery run (`later`, `end`, `off`: see
   * RECOVERY_MARK) at the run's clock `version`, in one step with reading the cart's version.
   * Null when the cart is gone (expired or flushed: there is nothing left to remind).
   */
  async markRecovery(id: string, step: 'later' | 'end' | 'off', version: number): Promise<RecoveryMark | null> {
    const raw = await this.eval(RECOVERY_MARK, id, [step, String(version), String(this.clock())]);
    if (raw === null) return null;
    const found = JSON.parse(raw) as { stale: boolean; version: number; updatedAt: string };
    return { stale: found.stale, version: found.version, updatedAt: Date.parse(found.updatedAt) };
  }

  /**
   * The reminder markers of these carts, read from Redis (one GET each, no restore: a cart missing
   * from Redis answers no marker). For the sweep, to pass over carts whose recovery is settled.
   */
  async recoveryMarkers(ids: string[]): Promise<Map<string, StoredCart['recovery']>> {
    const raws = await Promise.all(ids.map((id) => this.redis.get(key(id))));
    const markers = new Map<string, StoredCart['recovery']>();
    ids.forEach((id, i) => {
      const raw = raws[i];
      if (raw) markers.set(id, (JSON.parse(raw) as { recovery?: StoredCart['recovery'] }).recovery);
    });
    return markers;
  }

  private eval(script: string, id: string, args: string[]): Promise<string | null> {
    return runCartScript(this.redis, script, key(id), args, this.options.maxLines, this.acks);
  }

  private async mutate(id: string, run: () => Promise<string | null>): Promise<StoredCart | null> {
    let raw = await run();
    if (raw === null) {
      if (!(await this.restore(id))) return null;
      raw = await run();
      if (raw === null) return null;
    }
    const cart = decode(raw);
    await this.persist(cart);
    return cart;
  }

  /**
   * A cart missing from Redis: moved from its legacy key if it is still there (with its
   * checkout lock and remaining lifetime), else copied from the Postgres backup.
   */
  private async restore(id: string): Promise<StoredCart | null> {
    return (await this.moveLegacy(id)) ?? this.restoreBackup(id);
  }

  /**
   * Copies a cart from its pre-hash-tag key to cartKey (unless the new key exists already),
   * then deletes the old key if it still holds what was copied, and brings the backup up to
   * it (a backup write that failed before the upgrade). A crash in between leaves both keys:
   * reads find the new one, and the old one ends with the same TTL.
   */
  private async moveLegacy(id: string): Promise<StoredCart | null> {
    const found = (await runScript(this.redis, READ_LEGACY, legacyCartKey(id), [])) as [string, number] | null;
    if (!found) return null;
    const [raw, pttl] = found;
    const ttlMs = pttl > 0 ? pttl : this.options.ttlSeconds * 1000;
    const moved = await this.redis.set(key(id), raw, 'PX', ttlMs, 'NX');
    await runScript(this.redis, DELETE_IF_UNCHANGED, legacyCartKey(id), [raw]);
    if (moved) {
      const cart = decode(raw);
      await this.persist(cart);
      return cart;
    }
    const current = await this.redis.get(key(id));
    return current ? decode(current) : decode(raw);
  }

  /** Copies the Postgres backup into Redis, unless someone else already did. */
  private async restoreBackup(id: string): Promise<StoredCart | null> {
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
    if (row.cleared?.length) cart.cleared = row.cleared;
    const ttl = Math.max(1, Math.ceil((row.expiresAt.getTime() - Date.now()) / 1000));
    const stored = await this.redis.set(key(id), JSON.stringify(cart), 'EX', ttl, 'NX');
    if (stored) return cart;
    const raw = await this.redis.get(key(id));
    return raw ? decode(raw) : cart;
  }

  /** Upserts the snapshot; an older version never overwrites a newer one. */
  private async persist(cart: StoredCart): Promise<void> {
    const expiresAt = new Date(Date.parse(cart.updatedAt) + this.options.ttlSeconds * 1000);
    await backupStatement(this.db).execute({
      id: cart.id,
      currency: cart.currency,
      email: cart.email ?? null,
      customerId: cart.customerId ?? null,
      lines: cart.lines,
      version: cart.version,
      createdAt: new Date(cart.createdAt),
      updatedAt: new Date(cart.updatedAt),
      expiresAt,
      cleared: cart.cleared?.length ? JSON.stringify(cart.cleared) : null,
    });
  }
}

/**
 * The backup upsert of every cart write, as a prepared statement: built once per handle, parsed
 * once per connection (building it per write cost a cart PUT more CPU than its Lua script).
 */
const backupStatements = new WeakMap<Db, ReturnType<typeof prepareBackup>>();
function prepareBackup(db: Db) {
  const p = (name: string) => sql.placeholder(name);
  return db
    .insert(carts)
    .values({
      id: p('id'),
      currency: p('currency'),
      email: p('email'),
      customerId: p('customerId'),
      lines: p('lines'),
      version: p('version'),
      createdAt: p('createdAt'),
      updatedAt: p('updatedAt'),
      expiresAt: p('expiresAt'),
      cleared: sql`${p('cleared')}::jsonb`,
    })
    .onConflictDoUpdate({
      target: carts.id,
      set: {
        lines: sql`excluded.lines`,
        version: sql`excluded.version`,
        updatedAt: sql`excluded.updated_at`,
        expiresAt: sql`excluded.expires_at`,
        email: sql`excluded.email`,
        customerId: sql`excluded.customer_id`,
        cleared: sql`excluded.cleared`,
      },
      setWhere: sql`${carts.version} < excluded.version`,
    })
    .prepare('cart_backup_upsert');
}
function backupStatement(db: Db) {
  let statement = backupStatements.get(db);
  if (!statement) {
    statement = prepareBackup(db);
    backupStatements.set(db, statement);
  }
  return statement;
}

/** A place in the backed-up carts ordered by (updatedAt, id): a keyset cursor. */
export interface CartPosition {
  at: number;
  id: string;
}

/**
 * One page of the backed-up carts with an email and lines whose last change falls in [from, to],
 * ordered by (updatedAt, id) — `asc` from just after `after`, or `desc` from just before it (none:
 * from the range's end). A keyset page (index carts_updated_idx): as cheap deep in the range as at its start.
 */
export async function recoverableCarts(
  db: Db,
  range: { from: Date; to: Date; order: 'asc' | 'desc'; after?: CartPosition },
  limit: number,
): Promise<{ id: string; version: number; updatedAt: Date }[]> {
  const { from, to, order, after } = range;
  const past = after ? (order === 'asc' ? sql`(${carts.updatedAt}, ${carts.id}) > (${new Date(after.at)}, ${after.id})` : sql`(${carts.updatedAt}, ${carts.id}) < (${new Date(after.at)}, ${after.id})`) : undefined;
  return db
    .select({ id: carts.id, version: carts.version, updatedAt: carts.updatedAt })
    .from(carts)
    .where(and(isNotNull(carts.email), sql`jsonb_array_length(${carts.lines}) > 0`, between(carts.updatedAt, from, to), past))
    .orderBy(...(order === 'asc' ? [asc(carts.updatedAt), asc(carts.id)] : [desc(carts.updatedAt), desc(carts.id)]))
    .limit(limit);
}

/** The unexpired carts of a customer account (from the backup), most recently changed first. */
export async function customerCartIds(db: Db, customerId: string, limit = 50): Promise<string[]> {
  const rows = await db
    .select({ id: carts.id })
    .from(carts)
    .where(and(eq(carts.customerId, customerId), gt(carts.expiresAt, new Date())))
    .orderBy(desc(carts.updatedAt), desc(carts.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

/** Where the cart-recovery sweep got to (db/schema/cart.ts recoverySweep). */
export interface RecoverySweepState {
  edge?: CartPosition;
  cursor?: CartPosition;
}

const SWEEP_ROW = 'cart-recovery-sweep';

export async function readRecoverySweep(db: Db): Promise<RecoverySweepState> {
  const [row] = await db.select().from(recoverySweep).where(eq(recoverySweep.id, SWEEP_ROW));
  const position = (at: Date | null, id: string | null): CartPosition | undefined => (at && id !== null ? { at: at.getTime(), id } : undefined);
  return { edge: position(row?.edgeAt ?? null, row?.edgeId ?? null), cursor: position(row?.cursorAt ?? null, row?.cursorId ?? null) };
}

export async function saveRecoverySweep(db: Db, state: RecoverySweepState): Promise<void> {
  const values = {
    edgeAt: state.edge ? new Date(state.edge.at) : null,
    edgeId: state.edge?.id ?? null,
    cursorAt: state.cursor ? new Date(state.cursor.at) : null,
    cursorId: state.cursor?.id ?? null,
    updatedAt: new Date(),
  };
  await db
    .insert(recoverySweep)
    .values({ id: SWEEP_ROW, ...values })
    .onConflictDoUpdate({ target: recoverySweep.id, set: values });
}
