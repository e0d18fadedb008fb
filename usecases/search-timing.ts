/**
 * The steps of one catalog read, timed for the `Server-Timing` header of `GET /products` (what
 * the bench and any client read to see where a search's time goes): each step's wall time in
 * ms, in the order they ended.
 */
export class SearchTiming {
  private readonly started = performance.now();
  private readonly steps: [string, number][] = [];

  /** Runs `step` and records its wall time under `name` (also when it throws). */
  async time<T>(name: string, step: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await step();
    } finally {
      this.steps.push([name, performance.now() - t]);
    }
  }

  /** `name;dur=ms, …, app;dur=<since this timing began>` (RFC: Server Timing, W3C). */
  header(): string {
    return [...this.steps, ['app', performance.now() - this.started] as const].map(([name, ms]) => `${name};dur=${ms.toFixed(2)}`).join(', ');
  }
}
