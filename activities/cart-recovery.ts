import { priceLines } from '../db/stores/pricing';
import { Context } from '@temporalio/activity';
import { readRecoverySweep, recoverableCarts, saveRecoverySweep, type CartPosition } from '../db/stores/cart';
import { stockLevels } from '../db/stores/inventory';
import { sendOnce, sentKeys } from '../db/stores/notification-outbox';
import { getCustomer } from '../db/stores/customers';
import { hasOrderFrom } from '../db/stores/order-views';
import { isOptedOut, unsubscribeToken } from '../db/stores/unsubscribe';
import { signalCartRecovery } from '../temporal/cart-recovery';
import { decideReminder, mayRemind, type AddressStanding, type ReminderDecision } from '../domain/cart-reminder';
import { isAccountId } from '../domain/ownership';
import type { ActivityDeps } from './deps';
import { escapeHtml, formatMoney, render } from './templates/render';

/** What one reminder attempt found: sent (now or before), nothing to say, or a reason to stop or move the clock. */
export type ReminderResult = Exclude<ReminderDecision, { status: 'send' }> | { status: 'sent' | 'already_sent' };

/** Whether a reminder may go to this address (domain/cart-reminder.ts mayRemind); input of both activities below. */
export interface AddressCheck {
  cartId: string;
  /**
   * A customer account owns the cart or its address, as the caller knew it. Not needed: the
   * activities ask the accounts' store themselves (the cart's owner and its email, below).
   */
  ownedByAccount?: boolean;
}

/** The sweep reads idle carts in pages of this many, and starts (or tells) this many runs at once. */
const SWEEP_PAGE = 100;
const SWEEP_SIGNAL_CONCURRENCY = 10;

/** A heartbeat when running as an activity (a test may call the sweep directly). */
function heartbeat(details: unknown): void {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return;
  }
  context.heartbeat(details);
}

export function cartRecoveryActivities({ carts, dbs, mailer, config, temporal }: ActivityDeps) {
  /**
   * The cart belongs to a customer account (only a verified access token puts an account id on a
   * cart) and its email is that account's own: a customer reminded at their own address, never at
   * an address they typed for someone else.
   */
  const accountOwns = async (customerId: string | undefined, email: string): Promise<boolean> => {
    if (!isAccountId(customerId)) return false;
    const account = await getCustomer(dbs.customer, customerId);
    return account !== undefined && account.email.trim().toLowerCase() === email.trim().toLowerCase();
  };
  const standing = async (email: string, req: AddressCheck, customerId: string | undefined): Promise<AddressStanding> => ({
    hasPriorOrder: await hasOrderFrom(dbs.order, email),
    ownedByAccount: req.ownedByAccount === true || (await accountOwns(customerId, email)),
  });
  return {
    /** Before any reminder is scheduled: is the cart's address one we may mail at all? */
    async checkReminderAddress(req: AddressCheck): Promise<{ mayRemind: boolean }> {
      const cart = await carts.get(req.cartId);
      const email = cart?.email;
      return { mayRemind: email !== undefined && mayRemind(await standing(email, req, cart?.customerId)) };
    },

    /**
     * Sends reminder `step` for the cart as it is now — current prices and availability —
     * once per (cart, version, step). Reads the facts from the stores at send time; the rule
     * (stop, move the clock, skip, send) is domain/cart-reminder.ts decideReminder.
     */
    async sendCartReminder(req: AddressCheck & { version: number; step: number; discountCode?: string }): Promise<ReminderResult> {
      const cart = await carts.get(req.cartId);
      const email = cart?.email;
      const priced = cart && cart.lines.length > 0 ? await priceLines(dbs.catalog, cart.lines, cart.currency) : undefined;
      const levels = priced ? await stockLevels(dbs.inventory, priced.lines.map((l) => l.sku)) : new Map<string, { available: number }>();
      const available = (sku: string) => levels.get(sku)?.available ?? 0;
      const decision = decideReminder({
        cart: cart ? { email, lineCount: cart.lines.length, version: cart.version, updatedAt: Date.parse(cart.updatedAt) } : null,
        clockVersion: req.version,
        optedOut: email ? await isOptedOut(dbs.notification, email) : false,
        address: email ? await standing(email, req, cart?.customerId) : { hasPriorOrder: false, ownedByAccount: false },
        anyAvailable: (priced?.lines ?? []).some((l) => available(l.sku) > 0),
      });
      if (decision.status === 'send' || decision.status === 'skipped_unavailable') {
        // this step of this version is handled now: the run sleeps past the first reminder, so the
        // next cart write must tell it (the marker says `later`); a write meanwhile moves the clock
        const mark = await carts.markRecovery(req.cartId, 'later', req.version);
        if (!mark) return { status: 'stop', reason: 'no_cart' };
        if (mark.stale) return { status: 'stale', version: mark.version, updatedAt: mark.updatedAt };
      }
      if (decision.status !== 'send') return decision;
      if (!cart || !email || !priced) return { status: 'stop', reason: 'no_cart' };

      const lineText = (l: (typeof priced.lines)[number]) => {
        const left = available(l.sku);
        const stock = left <= 0 ? 'out of stock' : left < l.quantity ? `only ${left} left` : 'in stock';
        return `${l.quantity} × ${l.name}: ${formatMoney(l.lineTotal.amount, l.lineTotal.currency)} (${stock})`;
      };
      // RFC 8058 one-click: the link's POST unsubscribes; its GET shows a confirm page (link scanners only GET)
      const unsubscribeUrl = `${config.storefrontUrl}/unsubscribe/${unsubscribeToken(config.recovery.unsubscribeSecret, email, new Date(Date.now() + config.unsubscribeTokenTtlSeconds * 1000))}`;
      const vars = {
        total: formatMoney(priced.total.amount, priced.total.currency),
        lines: priced.lines.map(lineText).join('\n'),
        linesHtml: priced.lines.map((l) => `<li>${escapeHtml(lineText(l))}</li>`).join(''),
        cartUrl: `${config.storefrontUrl}/cart/${encodeURIComponent(cart.id)}`,
        unsubscribeUrl,
        discount: req.discountCode ? `Use code ${req.discountCode} at checkout for a discount.` : '',
      };
      const result = await sendOnce(dbs.notification, (m) => mailer.send(m), {
        idempotencyKey: `cart-reminder:${cart.id}:${cart.version}:${req.step}`,
        kind: 'cart_reminder',
        recipient: email,
        subject: req.step === 0 ? 'You left something in your cart' : 'Your cart is still waiting',
        text: render('cart-reminder.txt', vars),
        html: render('cart-reminder.html', vars),
        payload: { cartId: cart.id, version: cart.version, step: req.step },
        headers: { 'List-Unsubscribe': `<${unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
      });
      return { status: result.sent ? 'sent' : 'already_sent' };
    },

    /**
     * A recovery run ends: the cart's reminder marker goes (`off`: stays `off` for an address not to
     * be mailed), so the next write that leaves an email and lines starts a run again — unless the
     * cart has moved on since the run's clock `version` (refilled, changed): then the run carries
     * on from the version answered (`stale`).
     */
    async endCartRecovery(req: { cartId: string; version: number; off?: boolean }): Promise<{ status: 'ended' } | { status: 'stale'; version: number; updatedAt: number }> {
      const mark = await carts.markRecovery(req.cartId, req.off ? 'off' : 'end', req.version);
      return mark?.stale ? { status: 'stale', version: mark.version, updatedAt: mark.updatedAt } : { status: 'ended' };
    },

    /**
     * The Schedule's sweep: makes sure every idle cart with an email has its recovery workflow —
     * the repair of a start that was lost (see cart-scripts.ts RECOVERY_AFTER_WRITE). Its window
     * is the carts last changed between the first reminder's offset and the last one's (+1 h) ago.
     * At most `sweepBatch` runs are started (or told) per sweep, and no cart is starved by the
     * others in the window however many there are: carts whose recovery is settled are passed over
     * (marker `off`: the run ended for that address; every reminder of the cart's version sent), and
     * two keyset cursors kept between sweeps (db/schema/cart.ts recoverySweep) go through the rest:
     * - the edge: the carts that entered the window since the last sweep, oldest first (their first
     *   reminder is due now): up to 4/5 of the batch;
     * - the rolling pass down the whole window, newest first, carrying on where the last sweep
     *   stopped and starting again from the edge when it reaches the window's end: the rest.
     * Page by page, with a heartbeat after each, and the cursors saved after each page's signals.
     * Returns how many runs it started or told.
     */
    async ensureCartRecoveries(): Promise<number> {
      if (!temporal) throw new Error('the sweep needs a Temporal client');
      const client = temporal;
      const offsets = config.recovery.offsetsMinutes;
      const steps = offsets.length;
      const now = Date.now();
      const from = new Date(now - ((offsets[steps - 1] ?? 0) + 60) * 60_000);
      const to = new Date(now - (offsets[0] ?? 0) * 60_000);
      const batch = config.recovery.sweepBatch;
      const maxExamined = batch * 20;
      const state = await readRecoverySweep(dbs.cart);
      let signalled = 0;
      let examined = 0;

      type Idle = { id: string; version: number; updatedAt: Date };
      /** The carts of a page whose recovery is not settled (cheap: one GET per cart, one outbox query). */
      const unsettled = async (page: Idle[]): Promise<Set<string>> => {
        const markers = await carts.recoveryMarkers(page.map((c) => c.id));
        const keys = page.flatMap((c) => offsets.map((_, step) => `cart-reminder:${c.id}:${c.version}:${step}`));
        const sent = await sentKeys(dbs.notification, keys);
        const settled = (c: Idle) => markers.get(c.id) === 'off' || offsets.every((_, step) => sent.has(`cart-reminder:${c.id}:${c.version}:${step}`));
        return new Set(page.filter((c) => !settled(c)).map((c) => c.id));
      };
      const signal = async (list: Idle[]) => {
        for (let i = 0; i < list.length; i += SWEEP_SIGNAL_CONCURRENCY) {
          await Promise.all(
            list.slice(i, i + SWEEP_SIGNAL_CONCURRENCY).map((cart) => signalCartRecovery(client, config.temporal.taskQueue, config.recovery, { id: cart.id, version: cart.version, updatedAt: cart.updatedAt.getTime() })),
          );
        }
      };
      /**
       * Goes through one range page by page from `after` until `room` runs are started or told
       * (or the sweep examined its bound); `moved` saves the new position. True when the range is done.
       */
      const pass = async (range: { order: 'asc' | 'desc'; to: Date }, after: CartPosition | undefined, room: number, moved: (at: CartPosition) => Promise<void>): Promise<boolean> => {
        let position = after;
        let sentHere = 0;
        for (;;) {
          if (sentHere >= room || examined >= maxExamined) return false;
          const page = await recoverableCarts(dbs.cart, { from, to: range.to, order: range.order, after: position }, SWEEP_PAGE);
          const open = await unsettled(page);
          const due: Idle[] = [];
          let taken = 0;
          for (const cart of page) {
            if (sentHere >= room) break;
            taken++;
            examined++;
            position = { at: cart.updatedAt.getTime(), id: cart.id };
            if (open.has(cart.id)) {
              due.push(cart);
              sentHere++;
            }
          }
          await signal(due);
          signalled += due.length;
          if (position) await moved(position);
          heartbeat({ signalled, examined });
          if (taken === page.length && page.length < SWEEP_PAGE) return true;
        }
      };

      // the edge: carts new in the window since the last sweep (none known: the rolling pass has them all)
      let edge = state.edge && state.edge.at >= from.getTime() ? state.edge : undefined;
      let cursor = edge ? state.cursor : undefined;
      if (edge) {
        const done = await pass({ order: 'asc', to }, edge, batch - Math.floor(batch / 5), async (at) => {
          edge = at;
          await saveRecoverySweep(dbs.cart, { edge, cursor });
        });
        if (done) edge = { at: to.getTime(), id: edge.id };
      } else {
        edge = { at: to.getTime(), id: '' };
      }
      await saveRecoverySweep(dbs.cart, { edge, cursor });
      // the rolling pass, below the edge, newest first, from where it stopped
      const top = new Date(edge.at);
      const finished = await pass({ order: 'desc', to: top }, cursor, batch - signalled, async (at) => {
        cursor = at;
        await saveRecoverySweep(dbs.cart, { edge, cursor });
      });
      if (finished) await saveRecoverySweep(dbs.cart, { edge, cursor: undefined });
      return signalled;
    },
  };
}
