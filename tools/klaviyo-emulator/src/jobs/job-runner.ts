import type { IncomingMessage } from 'node:http';

/**
 * Timers of the emulator: asynchronous jobs (applied after a delay, as Klaviyo's jobs are),
 * injected delays and dropped connections, all cancelled on close.
 */
export class JobRunner {
  private readonly pending = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();

  /** `delayMs` undefined applies jobs before answering. */
  constructor(private readonly delayMs: number | undefined) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Applies a job now, or (asyncJobs) after the configured delay. */
  run(apply: () => unknown): void {
    if (this.delayMs === undefined) {
      apply();
      return;
    }
    const p = this.sleep(this.delayMs).then(() => void apply());
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Waits for pending asynchronous jobs to be applied. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** Closes (or resets) the request's connection after `ms` without answering (a timeout fault). */
  dropAfter(req: IncomingMessage, ms: number, reset = false): void {
    this.after(ms, () => (reset ? req.socket.resetAndDestroy() : req.socket.destroy()));
  }

  cancelAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}
