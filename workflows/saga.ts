import { log } from '@temporalio/workflow';

interface Compensation {
  name: string;
  run: () => Promise<unknown>;
}

/**
 * A stack of compensations. Each is pushed *before* the step it undoes runs (a step that
 * timed out may still have succeeded), and they run newest first. Compensation activities
 * are idempotent, so undoing a step that never happened is harmless.
 */
export class Saga {
  private readonly stack: Compensation[] = [];

  add(name: string, run: () => Promise<unknown>): void {
    this.stack.push({ name, run });
  }

  get names(): string[] {
    return this.stack.map((c) => c.name);
  }

  /**
   * Moves the named compensation to the top of the stack, so it runs first: for one whose
   * undo must not wait on the others (the stock hold while a void waits on the gateway).
   */
  runFirst(name: string): void {
    const at = this.stack.findIndex((c) => c.name === name);
    if (at < 0) return;
    const [step] = this.stack.splice(at, 1);
    this.stack.push(step as Compensation);
  }

  /** Forgets every compensation: the process reached a point it must not undo. */
  clear(): void {
    this.stack.length = 0;
  }

  /** Runs the compensations newest first; returns the names that ran. */
  async compensate(): Promise<string[]> {
    const ran: string[] = [];
    while (this.stack.length > 0) {
      const step = this.stack.pop() as Compensation;
      try {
        await step.run();
        ran.push(step.name);
      } catch (err) {
        log.error('compensation failed', { compensation: step.name, error: String(err) });
      }
    }
    return ran;
  }
}
