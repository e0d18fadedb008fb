import { createHash } from 'node:crypto';
import { Cluster, type ChainableCommander, type Redis } from 'ioredis';
import type { RedisClient } from '../redis';

/**
 * The Lua scripts that change a cart inside Redis (the whole cart is one JSON value, so each
 * change is atomic), and the errors their replies stand for. Each script touches exactly the
 * keys it is given as KEYS (never a name built inside the script), all of one cart, so in a
 * Redis Cluster every script runs on the one node that owns the cart's slot.
 */

export class TooManyLinesError extends Error {}

/** A checkout of this cart is running: its lines cannot change until it ends. */
export class CartLockedError extends Error {
  constructor(readonly checkoutId: string) {
    super(`checkout ${checkoutId} of this cart is running`);
  }
}

/** The cart is a customer account's and the caller is not that customer (answered as not found). */
export class NotCartOwnerError extends Error {}

/** A checkout's cart has another owner than when the checkout was opened (claimed at a login meanwhile). */
export class CartOwnerChangedError extends Error {}

/** The line's product is priced in another currency than the cart. */
export class CurrencyMismatchError extends Error {
  constructor(readonly cartCurrency: string) {
    super(`the cart is in ${cartCurrency}`);
  }
}

/**
 * The Lua twin of domain/ownership.ts isAccountId (ACCOUNT_ID_PATTERN: 'cus_' + 22 base64url
 * characters): a free-text guest label that merely starts with cus_ is no account id here either.
 */
const IS_ACCOUNT = `
local function isAccount(id) return type(id) == 'string' and #id == 26 and string.match(id, '^cus_[%w_%-]+$') ~= nil end
`;

/**
 * Adds each line's quantity to the cart's line of that sku (at most `max` per line), or appends
 * it; true (and the lines partly changed: the caller writes nothing then) when a new line would
 * exceed `maxLines`. Shared by a claim's merge and its undo.
 */
const ADD_LINES = `
local function addLines(lines, adds, max, maxLines)
  for _, add in ipairs(adds) do
    local found = false
    for _, l in ipairs(lines) do
      if l.sku == add.sku then
        l.quantity = math.min(max, l.quantity + add.quantity)
        found = true
      end
    end
    if not found then
      if #lines >= maxLines then return true end
      table.insert(lines, { sku = add.sku, quantity = math.min(max, add.quantity) })
    end
  end
  return false
end
`;

/**
 * The cart's reminder marker, `cart.recovery` (in the cart's own JSON, so every script that
 * changes the cart changes it in the same atomic step and in the cart's slot). It is what a cart
 * write knows about the cart's recovery workflow without asking Temporal:
 * - absent: no run is known: the first write that leaves an email and lines sets `open` and
 *   answers `kick` (the caller starts the run, off the answer path);
 * - `open`: a run is open and its clock is on the first reminder: a write only moves the last
 *   change later, which the run finds when it wakes (`stale`), so the write does nothing more —
 *   unless the marker was opened (`recoveryAt`, ms) longer ago than the restart bound: then the
 *   start it stood for may have been lost (Temporal out of reach, the API stopped before the
 *   start left, the backup write failed after the script ran, a run that failed or was
 *   terminated), so the write answers `kick` again and the bound starts afresh (the
 *   signal-with-start is idempotent; at most one per bound per cart);
 * - `later`: the run has handled a reminder of this version and sleeps towards a later one: the
 *   next write sets `open` and answers `kick` (the caller signals the run, once);
 * - `off`: the run ended for this address (opted out, not one we may mail): writes start nothing
 *   until the cart is emptied (a checkout, the last line removed), after which a refill checks again.
 * The run clears it when it ends (RECOVERY_MARK); the sweep Schedule starts a run for any idle
 * cart whatever the marker says, so a marker left `open` by a run that died is repaired there.
 */
const RECOVERY_AFTER_WRITE = `
local function recoveryAfterWrite(cart, lines, now, bound)
  if #lines == 0 then
    if cart.recovery == 'off' then cart.recovery = nil end
    return false
  end
  if type(cart.email) ~= 'string' or cart.email == '' then return false end
  local lapsed = cart.recovery == 'open' and tonumber(cart.recoveryAt or 0) + bound <= now
  if cart.recovery == nil or cart.recovery == 'later' or lapsed then
    cart.recovery = 'open'
    cart.recoveryAt = now
    return true
  end
  return false
end
`;

const shas = new Map<string, string>();
const sha1 = (script: string): string => {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  return sha;
};

/**
 * Changes one line atomically inside Redis: the whole cart is one JSON value, so two
 * concurrent writers never lose each other's lines. Returns nil when the key is missing
 * (expired, flushed): the caller restores it from Postgres and tries again. ARGV[6], when
 * not empty, is the line's currency: a cart in another one refuses the line (so the API
 * needs no separate read of the cart first). ARGV[8] is the caller's customer account ('' for
 * none): a cart owned by an account (customerId `cus_…`, domain/ownership.ts) refuses anyone else.
 * The reminder marker moves with the write (see RECOVERY_AFTER_WRITE; ARGV[9]: the restart bound
 * in ms, ARGV[7] the time); when the caller must start or tell the cart's recovery workflow, the
 * reply carries `recoveryKick: true` (never stored).
 */
export const SET_LINE = `${IS_ACCOUNT}${RECOVERY_AFTER_WRITE}
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
if isAccount(cart.customerId) and cart.customerId ~= ARGV[8] then return redis.error_reply('NOT_OWNER') end
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
local kick = recoveryAfterWrite(cart, lines, tonumber(ARGV[7]), tonumber(ARGV[9] or '') or 60000)
cart.lines = lines
cart.version = cart.version + 1
cart.updatedAt = ARGV[5]
local out = cjson.encode(cart)
redis.call('SET', KEYS[1], out, 'EX', ttl)
if kick then
  cart.recoveryKick = true
  return cjson.encode(cart)
end
return out
`;

/**
 * A customer claims a guest cart at login (ARGV[1]: the account id): it becomes theirs unless
 * another account owns it (NOT_OWNER) or a checkout of it is running. With ARGV[4] = '1' its
 * lines are taken out in the same step (to be merged into the customer's open cart), so a
 * second claim of the same cart finds nothing left to merge. A cart the customer owns already
 * is left as it is (nothing taken). Nil when the key is missing; else JSON
 * { cart, taken: lines, previous: the customerId it had (absent: none) }.
 */
export const CLAIM = `${IS_ACCOUNT}
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
if isAccount(cart.customerId) and cart.customerId ~= ARGV[1] then return redis.error_reply('NOT_OWNER') end
if cart.checkoutId and tonumber(cart.lockedUntil or 0) > tonumber(ARGV[3]) then return redis.error_reply('CHECKOUT_IN_PROGRESS ' .. tostring(cart.checkoutId)) end
if cart.customerId == ARGV[1] then return cjson.encode({ cart = cart, taken = {} }) end
local previous = cart.customerId
local taken = {}
if ARGV[4] == '1' and type(cart.lines) == 'table' then
  taken = cart.lines
  cart.lines = {}
end
cart.customerId = ARGV[1]
-- an account's cart: its address may be one we may mail now (the next write checks it again)
if cart.recovery == 'off' then cart.recovery = nil end
cart.version = cart.version + 1
cart.updatedAt = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(cart), 'KEEPTTL')
return cjson.encode({ cart = cart, taken = taken, previous = previous })
`;

/**
 * Adds lines to a cart in one step (a claim's merge): each quantity is added to the line's,
 * at most ARGV[2] per line. ARGV[1]: the lines (JSON), ARGV[3]: max lines, ARGV[4]: ttl,
 * ARGV[5]: updatedAt, ARGV[6]: now (ms), ARGV[7]: the caller's account. All or nothing: a cart
 * of another account (NOT_OWNER), a running checkout or too many lines changes nothing.
 */
export const MERGE_LINES = `${IS_ACCOUNT}${ADD_LINES}
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
if isAccount(cart.customerId) and cart.customerId ~= ARGV[7] then return redis.error_reply('NOT_OWNER') end
if cart.checkoutId and tonumber(cart.lockedUntil or 0) > tonumber(ARGV[6]) then return redis.error_reply('CHECKOUT_IN_PROGRESS ' .. tostring(cart.checkoutId)) end
local max, maxLines = tonumber(ARGV[2]), tonumber(ARGV[3])
local lines = {}
if type(cart.lines) == 'table' then lines = cart.lines end
if addLines(lines, cjson.decode(ARGV[1]), max, maxLines) then return redis.error_reply('TOO_MANY_LINES') end
cart.lines = lines
cart.version = cart.version + 1
cart.updatedAt = ARGV[5]
local out = cjson.encode(cart)
redis.call('SET', KEYS[1], out, 'EX', tonumber(ARGV[4]))
return out
`;

/**
 * Undoes a claim whose merge was refused: the taken lines go back (added, at most ARGV[2] per
 * line) and the cart gets its previous customerId back (ARGV[3], '' for none), if it is still
 * the claiming account's (ARGV[4]). ARGV[1]: the lines (JSON), ARGV[5]: updatedAt.
 */
export const UNCLAIM = `${ADD_LINES}
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
if cart.customerId ~= ARGV[4] then return raw end
local max = tonumber(ARGV[2])
local lines = {}
if type(cart.lines) == 'table' then lines = cart.lines end
addLines(lines, cjson.decode(ARGV[1]), max, math.huge)
cart.lines = lines
if ARGV[3] == '' then cart.customerId = nil else cart.customerId = ARGV[3] end
cart.version = cart.version + 1
cart.updatedAt = ARGV[5]
local out = cjson.encode(cart)
redis.call('SET', KEYS[1], out, 'KEEPTTL')
return out
`;

/**
 * Empties a cart (after a checkout) without touching its identity. An `off` reminder marker goes
 * (the address may be one we may mail now, after this order): a refill checks it again.
 */
export const CLEAR = `
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
cart.lines = {}
if cart.recovery == 'off' then cart.recovery = nil end
cart.checkoutId = nil
cart.lockedUntil = nil
cart.version = cart.version + 1
cart.updatedAt = ARGV[2]
local out = cjson.encode(cart)
redis.call('SET', KEYS[1], out, 'EX', tonumber(ARGV[1]))
return out
`;

/**
 * Takes one paid checkout's lines out of the cart, once per checkout: the cart keeps the ids of
 * the last few checkouts whose lines it gave up (`cleared`, at most 5), so a re-run (an activity
 * retry, a workflow reset) finds its id there and changes nothing — a cart the customer refilled
 * after the first clear keeps its lines. Otherwise each of the checkout's lines (ARGV[1], JSON
 * [{sku, quantity}]) is taken out by its quantity and the rest stays, whatever the lock says: the
 * lock may have lapsed and been taken by a refused second checkout, or the cart restored from its
 * Postgres backup (no lock, no `cleared`): the paid lines go in every case. The lock is ended
 * only when it is this checkout's (another live checkout's stays). Returns nil when the key is
 * missing, else the cart. ARGV[2] is the TTL (s), ARGV[3] the time (ISO), ARGV[4] the checkout.
 */
export const CLEAR_CHECKOUT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
local cleared = {}
if type(cart.cleared) == 'table' then cleared = cart.cleared end
for _, id in ipairs(cleared) do
  if id == ARGV[4] then return raw end
end
local paid = {}
for _, l in ipairs(cjson.decode(ARGV[1])) do paid[l.sku] = (paid[l.sku] or 0) + tonumber(l.quantity) end
local lines = {}
if type(cart.lines) == 'table' then
  for _, l in ipairs(cart.lines) do
    local left = tonumber(l.quantity) - (paid[l.sku] or 0)
    paid[l.sku] = math.max(0, (paid[l.sku] or 0) - tonumber(l.quantity))
    if left > 0 then table.insert(lines, { sku = l.sku, quantity = left }) end
  end
end
cart.lines = lines
table.insert(cleared, ARGV[4])
while #cleared > 5 do table.remove(cleared, 1) end
cart.cleared = cleared
if cart.recovery == 'off' then cart.recovery = nil end
if cart.checkoutId == ARGV[4] then
  cart.checkoutId = nil
  cart.lockedUntil = nil
end
cart.version = cart.version + 1
cart.updatedAt = ARGV[3]
local out = cjson.encode(cart)
redis.call('SET', KEYS[1], out, 'EX', tonumber(ARGV[2]))
return out
`;

/**
 * The recovery run moves the cart's reminder marker (see RECOVERY_AFTER_WRITE) without changing
 * the cart (no new version, same TTL). ARGV[1] is the step, ARGV[2] the version the run's clock
 * runs from:
 * - `later`: a reminder of that version is being handled: the next write must tell the run;
 *   refused (`stale`) when the cart is at another version by now;
 * - `end`: the run ends (all reminders done, or the cart emptied or gone): the marker goes, unless
 *   the cart has an email and lines at another version by now (`stale`: the marker stays `open`
 *   and the run carries on from that version);
 * - `off`: the run ends for this address (opted out, or not one we may mail): `off` while the
 *   cart has an email and lines, else the marker goes.
 * Nil when the cart is gone; else JSON { stale, version, updatedAt } of the cart as it is.
 * ARGV[3] (ms) is the time: a marker left `open` is opened then (`recoveryAt`, the restart bound's
 * start); a marker that is not `open` keeps no time.
 */
export const RECOVERY_MARK = `
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
local op, v = ARGV[1], tonumber(ARGV[2])
local remindable = type(cart.email) == 'string' and cart.email ~= '' and type(cart.lines) == 'table' and #cart.lines > 0
local stale = false
if op == 'later' then
  if cart.version ~= v then stale = true else cart.recovery = 'later' end
elseif op == 'end' then
  if remindable and cart.version ~= v then
    stale = true
    cart.recovery = 'open'
    cart.recoveryAt = tonumber(ARGV[3] or '') or cart.recoveryAt
  else
    cart.recovery = nil
  end
elseif op == 'off' then
  if remindable then cart.recovery = 'off' else cart.recovery = nil end
else
  return redis.error_reply('UNKNOWN_STEP ' .. tostring(op))
end
if cart.recovery ~= 'open' then cart.recoveryAt = nil end
if not stale or op == 'end' then redis.call('SET', KEYS[1], cjson.encode(cart), 'KEEPTTL') end
return cjson.encode({ stale = stale, version = cart.version, updatedAt = cart.updatedAt })
`;

/**
 * A checkout takes the cart for itself (until a deadline, so a lock whose checkout died
 * ends by itself); another live checkout's lock is left alone and named in the answer.
 * ARGV[4] is the account the checkout was opened for ('' for a guest's): a cart whose owner is
 * another by now (a login claimed it meanwhile) is refused (OWNER_CHANGED), never checked out.
 */
export const LOCK = `${IS_ACCOUNT}
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local cart = cjson.decode(raw)
local owner = ''
if isAccount(cart.customerId) then owner = cart.customerId end
if owner ~= (ARGV[4] or '') then return redis.error_reply('OWNER_CHANGED') end
if cart.checkoutId and cart.checkoutId ~= ARGV[1] and tonumber(cart.lockedUntil or 0) > tonumber(ARGV[3]) then return cart.checkoutId end
cart.checkoutId = ARGV[1]
cart.lockedUntil = tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(cart), 'KEEPTTL')
return ARGV[1]
`;

/** Ends the lock of one checkout (a failed one); another checkout's lock is left alone. */
export const UNLOCK = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local cart = cjson.decode(raw)
if cart.checkoutId ~= ARGV[1] then return 0 end
cart.checkoutId = nil
cart.lockedUntil = nil
redis.call('SET', KEYS[1], cjson.encode(cart), 'KEEPTTL')
return 1
`;

/**
 * Reads a cart under its name from before the hash tags (see cart.ts), with its remaining
 * lifetime in ms (-1: none), in one step. Nil when there is none.
 */
export const READ_LEGACY = `
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
return { raw, redis.call('PTTL', KEYS[1]) }
`;

/** Deletes the legacy key only if it still holds what was copied (a later write is not lost). */
export const DELETE_IF_UNCHANGED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** How long a write waits for replicas to have it (WAIT), in a cluster; none on a single node. */
export interface ReplicaAcks {
  replicas: number;
  waitMs: number;
}

/** A pipeline to send: on the client as usual, or, after an ASK, on the named node after ASKING. */
export type PipelineSource = () => ChainableCommander;

/** A node's redirection instead of running the command (nothing ran): MOVED or ASK, and where. */
function redirectionOf(err: unknown): { kind: 'MOVED' | 'ASK'; address: string } | undefined {
  const m = err instanceof Error ? /^(MOVED|ASK) \d+ (\S+)/.exec(err.message) : null;
  return m ? { kind: m[1] as 'MOVED' | 'ASK', address: m[2] as string } : undefined;
}

/** The cluster's connection to the master at `host:port` (as the cluster announces it), if it has one. */
function nodeAt(cluster: Cluster, address: string): Redis | undefined {
  return cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === address);
}

/**
 * Sends a pipeline (a cart write and its WAIT), following a node's redirection: a pipeline does
 * not follow one as a single command does, and a redirected command did not run.
 * - MOVED (the slot lives elsewhere now, e.g. after a failover): the slot map is read again and
 *   the pipeline sent again, a few times; then the error stands (api/errors.ts answers it 503
 *   with Retry-After).
 * - ASK (the slot is being migrated and this key is already, or will be, on the importing node):
 *   the same pipeline goes to the named node, preceded by ASKING, in one pipeline on that node's
 *   connection (the Redis Cluster spec: ASKING lets the next command in; the slot map is left
 *   as it is, since the next command of the slot still goes to the migrating node first). Once
 *   the migration ends, the old node answers MOVED and the map is refreshed.
 * `run` builds its pipeline from the source it is given.
 */
export async function followingMoves<T>(redis: RedisClient, run: (pipeline: PipelineSource) => Promise<T>): Promise<T> {
  let source: PipelineSource = () => redis.pipeline();
  for (let attempt = 0; ; attempt++) {
    try {
      return await run(source);
    } catch (err) {
      const redirect = redirectionOf(err);
      if (!redirect || attempt >= 3 || !(redis instanceof Cluster)) throw err;
      if (redirect.kind === 'ASK') {
        let node = nodeAt(redis, redirect.address);
        if (!node) {
          await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
          node = nodeAt(redis, redirect.address);
        }
        if (node) {
          const target = node;
          source = () => target.pipeline().asking();
          continue;
        }
      }
      source = () => redis.pipeline();
      await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
}

/** The reply of a pipeline's command at `index` (after an ASKING, one further on), or its error thrown. */
function replyAt(results: [Error | null, unknown][] | null, index: number): unknown {
  const [err, reply] = results?.[index] ?? [new Error('no reply from the pipeline'), null];
  if (err) throw err;
  return reply;
}

/** How much longer than REDIS_CLUSTER_WAIT_MS a write waits a second time for a replica that was late. */
const LATE_REPLICA_WAIT_FACTOR = 8;

/** The key's node, asked again: its ROLE reply, and a WAIT of `waitMs` (its reply). */
export interface KeyNode {
  role(): Promise<unknown>;
  wait(waitMs: number): Promise<unknown>;
}

/** The replicas a master's ROLE reply lists as connected (0 for a reply that is not a master's). */
const connectedReplicas = (role: unknown): number => (Array.isArray(role) && role[0] === 'master' && Array.isArray(role[2]) ? role[2].length : 0);

/**
 * A write's WAIT answered `acked` replicas. Fewer than asked for, while the master has a replica
 * connected (one lagging, e.g. on a busy host): a write answered now could be lost by a failover,
 * the promoted replica's older copy hiding the PostgreSQL backup's newer one — so the key's node
 * is asked to WAIT again, longer; still short, the write is answered `NOREPLICAS` (503 +
 * Retry-After, api/errors.ts): it may or may not have landed, and a cart write sent again (a PUT
 * or DELETE of a line) is the same write. A master with no replica connected (its replica
 * promoted away, or dead) cannot lose the write to a failover: the write stands, with the
 * PostgreSQL backup as its copy (a cart Redis no longer has is read from it).
 */
export async function awaitReplicas(acked: unknown, acks: ReplicaAcks, node: KeyNode): Promise<void> {
  if (Number(acked) >= acks.replicas) return;
  if (connectedReplicas(await node.role()) === 0) return;
  if (Number(await node.wait(acks.waitMs * LATE_REPLICA_WAIT_FACTOR)) >= acks.replicas) return;
  throw new Error(`NOREPLICAS no replica acknowledged the cart write within ${acks.waitMs * (1 + LATE_REPLICA_WAIT_FACTOR)} ms`);
}

/** The key's node, through a pipeline (a keyed command first routes it there; after an ASK, ASKING leads). */
export function keyNode(pipelineOf: PipelineSource, key: string, replicas: number): KeyNode {
  const last = async (pipeline: ChainableCommander) => {
    const replies = ((await pipeline.exec()) ?? []) as [Error | null, unknown][];
    return replyAt(replies, replies.length - 1);
  };
  return {
    role: () => last(pipelineOf().exists(key).role()),
    wait: (waitMs) => last(pipelineOf().exists(key).wait(replicas, waitMs)),
  };
}

/**
 * EVALSHA (the script is not sent each time); EVAL once when Redis does not have it (restarted,
 * flushed; or the importing node of a migration, after an ASK). With replica acks, WAIT goes in
 * the same pipeline, so it reaches the node that ran the script: the answer leaves once a
 * replica has the write, and a failover keeps it.
 */
export async function runScript(redis: RedisClient, script: string, key: string, args: string[], acks?: ReplicaAcks): Promise<unknown> {
  const once = async (evalsha: boolean, pipelineOf: PipelineSource): Promise<unknown> => {
    if (!acks || acks.replicas === 0) return evalsha ? redis.evalsha(sha1(script), 1, key, ...args) : redis.eval(script, 1, key, ...args);
    const pipeline = pipelineOf();
    // an ASK's pipeline starts with ASKING: the script's reply is the one after it
    const first = (pipeline as unknown as { length: number }).length;
    if (evalsha) pipeline.evalsha(sha1(script), 1, key, ...args);
    else pipeline.eval(script, 1, key, ...args);
    const results = (await pipeline.wait(acks.replicas, acks.waitMs).exec()) as [Error | null, unknown][] | null;
    const reply = replyAt(results, first);
    // (the second WAIT goes where the write went: a keyed command routes the pipeline to the key's node)
    await awaitReplicas(replyAt(results, first + 1), acks, keyNode(pipelineOf, key, acks.replicas));
    return reply;
  };
  const followed = (evalsha: boolean) => followingMoves(redis, (pipeline) => once(evalsha, pipeline));
  try {
    return await followed(true);
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
    return followed(false);
  }
}

/** A cart script: its reply, or the typed error its error reply stands for. */
export async function runCartScript(redis: RedisClient, script: string, key: string, args: string[], maxLines: number, acks?: ReplicaAcks): Promise<string | null> {
  try {
    return (await runScript(redis, script, key, args, acks)) as string | null;
  } catch (err) {
    if (err instanceof Error && err.message.includes('TOO_MANY_LINES')) {
      throw new TooManyLinesError(`a cart holds at most ${maxLines} lines`);
    }
    const locked = err instanceof Error ? /CHECKOUT_IN_PROGRESS (\S+)/.exec(err.message) : null;
    if (locked) throw new CartLockedError(locked[1] as string);
    if (err instanceof Error && err.message.includes('OWNER_CHANGED')) throw new CartOwnerChangedError('the cart changed hands');
    if (err instanceof Error && err.message.includes('NOT_OWNER')) throw new NotCartOwnerError('this cart is another customer\'s');
    const mismatch = err instanceof Error ? /CURRENCY_MISMATCH (\S+)/.exec(err.message) : null;
    if (mismatch) throw new CurrencyMismatchError(mismatch[1] as string);
    throw err;
  }
}

/** Every script of this module, by name: test/stores/cart.test.ts checks each names no key of its own. */
export const CART_SCRIPTS = { SET_LINE, CLEAR, CLEAR_CHECKOUT, RECOVERY_MARK, LOCK, UNLOCK, READ_LEGACY, DELETE_IF_UNCHANGED, CLAIM, MERGE_LINES, UNCLAIM };
