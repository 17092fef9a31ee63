import type { RateLimit } from './klaviyo-emulator.constants';

export type RateLimitDecision =
  | { readonly allowed: true; readonly limit: number; readonly remaining: number; readonly resetSeconds: number }
  | { readonly allowed: false; readonly window: 'burst' | 'steady'; readonly retryAfterSeconds: number };

interface WindowCounter {
  secondStart: number;
  secondCount: number;
  minuteStart: number;
  minuteCount: number;
}

/**
 * Klaviyo's "fixed-window rate limiting algorithm with two distinct windows: burst (1-second window)
 * and steady (1-minute window)" (Rate limits, status codes, and errors). Windows are aligned to the
 * clock (fixed, not sliding). Only admitted requests use up quota, so a client that waits Retry-After
 * seconds gets through.
 */
/** The counter of `key` with its 1 s and 60 s fixed windows moved to the ones holding `t`. */
function windowsAt(
  counters: Map<string, WindowCounter>,
  key: string,
  t: number,
): { c: WindowCounter; second: number; minute: number } {
  const second = Math.floor(t / 1000) * 1000;
  const minute = Math.floor(t / 60_000) * 60_000;
  let c = counters.get(key);
  if (!c) {
    c = { secondStart: second, secondCount: 0, minuteStart: minute, minuteCount: 0 };
    counters.set(key, c);
  }
  if (c.secondStart !== second) {
    c.secondStart = second;
    c.secondCount = 0;
  }
  if (c.minuteStart !== minute) {
    c.minuteStart = minute;
    c.minuteCount = 0;
  }
  return { c, second, minute };
}

export class FixedWindowRateLimiter {
  private readonly counters = new Map<string, WindowCounter>();

  constructor(private readonly now: () => number) {}

  take(key: string, limit: RateLimit): RateLimitDecision {
    const t = this.now();
    const { c, second, minute } = windowsAt(this.counters, key, t);
    if (c.minuteCount >= limit.steady) {
      return {
        allowed: false,
        window: 'steady',
        retryAfterSeconds: Math.max(1, Math.ceil((minute + 60_000 - t) / 1000)),
      };
    }
    if (c.secondCount >= limit.burst) {
      return { allowed: false, window: 'burst', retryAfterSeconds: Math.max(1, Math.ceil((second + 1000 - t) / 1000)) };
    }
    c.secondCount++;
    c.minuteCount++;
    // The RateLimit-* headers "indicate the state of the steady rate limit window".
    return {
      allowed: true,
      limit: limit.steady,
      remaining: limit.steady - c.minuteCount,
      resetSeconds: Math.max(1, Math.ceil((minute + 60_000 - t) / 1000)),
    };
  }

  reset(): void {
    this.counters.clear();
  }
}

/** Counts arrivals per fixed 1 s / 60 s window and keeps the highest count seen, per endpoint. */
export class WindowPeakTracker {
  private readonly current = new Map<string, WindowCounter>();
  private readonly peaks = new Map<string, { perSecond: number; perMinute: number }>();

  constructor(private readonly now: () => number) {}

  record(key: string): void {
    const { c } = windowsAt(this.current, key, this.now());
    c.secondCount++;
    c.minuteCount++;
    let p = this.peaks.get(key);
    if (!p) {
      p = { perSecond: 0, perMinute: 0 };
      this.peaks.set(key, p);
    }
    if (c.secondCount > p.perSecond) p.perSecond = c.secondCount;
    if (c.minuteCount > p.perMinute) p.perMinute = c.minuteCount;
  }

  snapshot(): Record<string, { perSecond: number; perMinute: number }> {
    return Object.fromEntries([...this.peaks].map(([k, v]) => [k, { ...v }]));
  }

  reset(): void {
    this.current.clear();
    this.peaks.clear();
  }
}
