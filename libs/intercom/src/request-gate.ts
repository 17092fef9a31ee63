import { systemClock, type Clock } from '@iks/retry';

/**
 * Bounds the requests in flight and honours Intercom's rate-limit headers
 * (developers.intercom.com, "Rate limiting": X-RateLimit-Limit, X-RateLimit-Remaining,
 * X-RateLimit-Reset = unix seconds when the window resets). When Remaining reaches 0 every
 * caller waits until the reset before sending.
 */
export class RequestGate {
  private inFlight = 0;
  private readonly waiters: Array<() => void> = [];
  private remaining: number | undefined;
  private resetAtMs = 0;

  constructor(
    private readonly maxInFlight: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
      throw new RangeError('maxInFlight must be a positive integer');
  }

  /** Runs `fn` when a slot is free and the rate window allows. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire();
    try {
      await this.waitForWindow(signal);
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Record what the last answer said about the window. */
  observe(headers: Headers): void {
    const remaining = Number(headers.get('x-ratelimit-remaining'));
    const reset = Number(headers.get('x-ratelimit-reset'));
    if (headers.has('x-ratelimit-remaining') && Number.isFinite(remaining)) this.remaining = remaining;
    if (headers.has('x-ratelimit-reset') && Number.isFinite(reset) && reset > 0) this.resetAtMs = reset * 1000;
  }

  /** Mark the window exhausted (a 429) until `resetAtMs`. */
  exhaustUntil(resetAtMs: number): void {
    this.remaining = 0;
    this.resetAtMs = Math.max(this.resetAtMs, resetAtMs);
  }

  /** Milliseconds until the window opens again (0 when requests may go now). */
  waitMs(): number {
    if (this.remaining === undefined || this.remaining > 0) return 0;
    return Math.max(0, this.resetAtMs - this.clock.now());
  }

  private async waitForWindow(signal?: AbortSignal): Promise<void> {
    for (let ms = this.waitMs(); ms > 0; ms = this.waitMs()) {
      await this.clock.sleep(ms + 50, signal);
      // the reset has passed: let one request through to learn the new window
      if (this.clock.now() >= this.resetAtMs) this.remaining = undefined;
    }
  }

  private acquire(): Promise<void> {
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(() => resolve()));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next)
      next(); // the slot passes to the next waiter
    else this.inFlight--;
  }
}
