/** Readiness asks the broker and the registry at most this often; a probe gives up after PROBE_TIMEOUT_MS. */
export const PROBE_CACHE_MS = 2000;
export const PROBE_TIMEOUT_MS = 1500;

/**
 * A readiness check run at most every PROBE_CACHE_MS. Down at once when it never succeeded,
 * else after two failures in a row: one answer slower than PROBE_TIMEOUT_MS on a loaded machine
 * is not an outage (found by the chaos suite's webhook flood), a dead broker or registry is red
 * within about two probe periods.
 */
export class ReadinessProbe {
  private last: { at: number; result: Promise<boolean> } | null = null;
  private failures = 0;
  private seenUp = false;

  constructor(
    private readonly check: () => Promise<boolean>,
    private readonly now: () => number = Date.now,
  ) {}

  up(): Promise<boolean> {
    const now = this.now();
    if (this.last && now - this.last.at < PROBE_CACHE_MS) return this.last.result;
    const result = this.check()
      .catch(() => false)
      .then((ok) => {
        this.failures = ok ? 0 : this.failures + 1;
        if (ok) this.seenUp = true;
        return ok || (this.seenUp && this.failures < 2);
      });
    this.last = { at: now, result };
    return result;
  }
}
