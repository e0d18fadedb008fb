import {
  ApplicationFailure,
  ActivityFailure,
  condition,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { SupportActionNote, SupportActor } from '../domain/support';
import type { CheckoutStatusKey } from '../temporal/search-attributes';
import { cancelSignal, retrySignal, supportCancelUpdate, supportRetryUpdate, type SupportActionTaken, type SupportSignalArgs } from './messages';
import { showParked } from './ui-details';

export class CancelledBySupport extends Error {
  constructor(
    readonly reason: string,
    /** False when no one decided: the wait outlived what it waited for (an authorization expired). */
    readonly bySupport = true,
  ) {
    super(reason);
    this.name = 'CancelledBySupport';
  }
}

/** What support reads about a failure: its type and message. */
export function describeFailure(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? `${cause.type ?? 'error'}: ${cause.message}` : String(err);
}

/**
 * Support signals upsert the memo `lastSupportAction` (who, why, when) for the Web UI. A
 * memo upsert is a command: histories recorded before it replay without it (patched).
 */
export const SUPPORT_ACTOR_MEMO_PATCH = 'support-actor-memo';
/** A signal sent without an actor: from the Web UI or the CLI by hand (the admin API always sends one). */
const UNNAMED_ACTOR: SupportActor = { id: 'unknown', name: 'unnamed (a signal sent without an actor, e.g. from the Web UI)' };

/** A keyword search attribute key (CheckoutStatus, RefundStatus, …). */
type KeywordKey = typeof CheckoutStatusKey;

interface SupportView {
  step: string;
  /** While parked: the step that waits for support's decision (the step shown before it parked). */
  parkedStep?: string;
  waitingFor?: string;
  lastError?: string;
  ignoredSignals?: string[];
}

/**
 * "Parked, not failed", for any workflow: a step that retries cannot fix waits for a human
 * instead of failing or compensating on its own. Support sends `retry` (after fixing the
 * cause) or `cancel` from the Web UI or the admin API; the workflow's status search attribute
 * (a parameter: CheckoutStatus, RefundStatus, …) shows `needs_attention` meanwhile. A
 * decision counts only while something waits for one: a signal racing a retry that already
 * resumed is recorded as ignored, never kept to fire at some later parking.
 */
export class WaitForSupport {
  private waiting = false;
  private retryRequested = false;
  cancelReason: string | undefined;
  /** How many times support sent `retry` to a parked step (each retry is a new decision). */
  retries = 0;

  constructor(
    private readonly opts: {
      view: SupportView;
      status: { key: KeywordKey; parked: string; resumed: string };
      /** A Temporal cancel request while waiting counts as support's cancel (refunds); default: it does not. */
      cancelRequestDecides?: boolean;
      /** How the workflow moves its status (default: upsert the status attribute). */
      moveTo?: (status: string) => void;
    },
  ) {
    setHandler(retrySignal, (by?: SupportSignalArgs) => {
      if (this.waiting) {
        this.retryRequested = true;
        this.note('retry', by);
      } else this.ignore('retry');
    });
    setHandler(cancelSignal, ({ reason, actor }) => {
      if (this.waiting) {
        this.cancelReason = reason || 'cancelled by support';
        this.note('cancel', { actor, reason: this.cancelReason });
      } else this.ignore('cancel');
    });
    // The admin API's path: an update the workflow accepts only while it waits and nothing
    // was decided yet, so a caller told "taken" knows the workflow took it (the API records
    // the order event only then). Registering a handler adds no command: old histories replay.
    setHandler(
      supportRetryUpdate,
      ({ actor }: { actor: SupportActor }): SupportActionTaken => {
        this.retryRequested = true;
        return this.note('retry', { actor });
      },
      { validator: (_by: { actor: SupportActor }): void => this.mayDecide() },
    );
    setHandler(
      supportCancelUpdate,
      ({ actor, reason }: { actor: SupportActor; reason: string }): SupportActionTaken => {
        this.cancelReason = reason || 'cancelled by support';
        return this.note('cancel', { actor });
      },
      { validator: (_by: { actor: SupportActor; reason: string }): void => this.mayDecide() },
    );
  }

  /** An update's validator: refuses (nothing recorded, no event in history) unless this call would decide. */
  private mayDecide(): void {
    if (!this.waiting) throw ApplicationFailure.create({ type: 'order_not_parked', message: 'not waiting for support (it was not parked, or has resumed)', nonRetryable: true });
    if (this.retryRequested || this.cancelReason !== undefined) {
      throw ApplicationFailure.create({
        type: 'support_action_conflict',
        message: `another support action (${this.cancelReason !== undefined ? 'cancel' : 'retry'}) was already taken`,
        nonRetryable: true,
      });
    }
  }

  /** Who decided the last support action, and why. */
  lastActor: SupportActor | undefined;

  /**
   * The memo shows who did what and when, never the free-text reason (it may hold personal
   * data; the order event and the signal's own input keep it).
   */
  private note(action: 'retry' | 'cancel', by: SupportSignalArgs | undefined): SupportActionTaken {
    this.lastActor = by?.actor ?? UNNAMED_ACTOR;
    const at = new Date().toISOString();
    if (patched(SUPPORT_ACTOR_MEMO_PATCH)) {
      const note: SupportActionNote = { action, actor: { id: this.lastActor.id, name: this.lastActor.name }, at };
      upsertMemo({ lastSupportAction: note });
    }
    return { action, at };
  }

  private setStatus(value: string): void {
    if (this.opts.moveTo) this.opts.moveTo(value);
    else upsertSearchAttributes([{ key: this.opts.status.key, value }]);
  }

  private ignore(signal: 'retry' | 'cancel'): void {
    this.opts.view.ignoredSignals = [...(this.opts.view.ignoredSignals ?? []), signal];
    log.warn('support signal ignored: the workflow was not waiting for support', { signal });
  }

  /**
   * Parks with `reason` until support decides; `whileWaiting` runs once parked (e.g. the
   * order's status). With `until` (workflow time, ms), a wait still open then ends as a cancel
   * with `expired` as its reason: e.g. a capture cannot be retried once the authorization expired.
   */
  async decide(reason: string, whileWaiting?: () => Promise<void>, until?: { at: number; expired: string }): Promise<'retry' | 'cancel' | 'expired'> {
    const { view, status } = this.opts;
    view.step = 'needs_attention';
    view.waitingFor = 'a retry or cancel signal from support';
    view.lastError = reason;
    showParked(reason);
    this.waiting = true;
    this.setStatus(status.parked);
    log.warn('parked for support', { reason });
    await whileWaiting?.();
    try {
      const decided = () => this.retryRequested || this.cancelReason !== undefined;
      if (until) {
        if (!(await condition(decided, Math.max(1, until.at - Date.now())))) {
          this.waiting = false;
          view.waitingFor = undefined;
          return 'expired';
        }
      } else {
        await condition(decided);
      }
    } catch (err) {
      if (!this.opts.cancelRequestDecides || !isCancellation(err)) throw err;
      this.cancelReason ??= 'cancelled (workflow cancel request)';
    }
    this.waiting = false;
    view.waitingFor = undefined;
    if (this.cancelReason !== undefined) return 'cancel';
    this.retryRequested = false;
    this.retries += 1;
    setCurrentDetails(`**Resumed by support${this.lastActor ? ` (${this.lastActor.name})` : ''}:** retry ${this.retries} of: ${reason}`);
    this.setStatus(status.resumed);
    return 'retry';
  }
}

/** A time (workflow time, ms) after which a parked step is cancelled, and the reason then given. */
export interface Deadline {
  at: number;
  expired: string;
}

/** The checkout's use of it: runs a step until it succeeds, parking between failures. */
export class Parking {
  readonly support: WaitForSupport;

  constructor(
    private readonly hooks: {
      onPark: (reason: string) => Promise<void>;
      onResume: () => Promise<void>;
      view: SupportView;
      status: { key: KeywordKey; parked: string; resumed: string };
      moveTo?: (status: string) => void;
    },
  ) {
    this.support = new WaitForSupport({ view: hooks.view, status: hooks.status, moveTo: hooks.moveTo });
  }

  get cancelReason(): string | undefined {
    return this.support.cancelReason;
  }

  get retries(): number {
    return this.support.retries;
  }

  /**
   * Runs `step` until it succeeds; between failures, parks until support decides (cancel →
   * CancelledBySupport) or, with `until`, until that time passes (CancelledBySupport, not by support).
   */
  async run<T>(step: () => Promise<T>, until?: Deadline | (() => Deadline | undefined)): Promise<T> {
    for (;;) {
      try {
        return await step();
      } catch (err) {
        const resumeStep = this.hooks.view.step;
        // a function: the step decides after each failure whether the deadline still applies
        const deadline = typeof until === 'function' ? until() : until;
        this.hooks.view.parkedStep = resumeStep;
        const decision = await this.support.decide(describeFailure(err), () => this.hooks.onPark(describeFailure(err)), deadline);
        this.hooks.view.parkedStep = undefined;
        if (decision === 'expired') throw new CancelledBySupport(deadline?.expired ?? 'expired', false);
        if (decision === 'cancel') throw new CancelledBySupport(this.support.cancelReason ?? 'cancelled by support');
        this.hooks.view.step = resumeStep;
        await this.hooks.onResume();
      }
    }
  }
}
