import { ApplicationFailure, ActivityFailure, condition, log, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { CheckoutStatusKey } from '../temporal/search-attributes';
import { cancelSignal, retrySignal } from './messages';

export class CancelledBySupport extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'CancelledBySupport';
  }
}

function describe(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? `${cause.type ?? 'error'}: ${cause.message}` : String(err);
}

/**
 * "Parked, not failed": a step that retries cannot fix waits for a human instead of
 * failing or compensating on its own. Support sends `retry` (after fixing the cause) or
 * `cancel` (the caller's compensations run) from the Web UI or the admin API.
 */
export class Parking {
  private retryRequested = false;
  private parked = false;
  cancelReason: string | undefined;
  /** How many times support sent `retry` to a parked step (each retry is a new decision). */
  retries = 0;

  constructor(
    private readonly hooks: {
      onPark: (reason: string) => Promise<void>;
      onResume: () => Promise<void>;
      view: { step: string; waitingFor?: string; lastError?: string; ignoredSignals?: string[] };
    },
  ) {
    // A decision counts only while a step waits for one: a signal racing a retry that already
    // resumed the step is recorded as ignored, never kept to fire at some later parking.
    setHandler(retrySignal, () => {
      if (this.parked) this.retryRequested = true;
      else this.ignore('retry');
    });
    setHandler(cancelSignal, ({ reason }) => {
      if (this.parked) this.cancelReason = reason || 'cancelled by support';
      else this.ignore('cancel');
    });
  }

  private ignore(signal: 'retry' | 'cancel'): void {
    this.hooks.view.ignoredSignals = [...(this.hooks.view.ignoredSignals ?? []), signal];
    log.warn('support signal ignored: the workflow was not waiting for support', { signal });
  }

  /** Runs `step` until it succeeds; between failures, parks until support decides. */
  async run<T>(step: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await step();
      } catch (err) {
        const reason = describe(err);
        const resumeStep = this.hooks.view.step;
        this.hooks.view.step = 'needs_attention';
        this.hooks.view.waitingFor = 'a retry or cancel signal from support';
        this.hooks.view.lastError = reason;
        this.parked = true;
        upsertSearchAttributes([{ key: CheckoutStatusKey, value: 'needs_attention' }]);
        log.warn('parked for support', { reason });
        await this.hooks.onPark(reason);
        await condition(() => this.retryRequested || this.cancelReason !== undefined);
        this.parked = false;
        this.hooks.view.waitingFor = undefined;
        if (this.cancelReason !== undefined) throw new CancelledBySupport(this.cancelReason);
        this.retryRequested = false;
        this.retries += 1;
        this.hooks.view.step = resumeStep;
        upsertSearchAttributes([{ key: CheckoutStatusKey, value: 'placed' }]);
        await this.hooks.onResume();
      }
    }
  }
}
