import { FixedWindowRateLimiter, WindowPeakTracker } from './fixed-window-rate-limiter';

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);

describe('FixedWindowRateLimiter', () => {
  it('admits `burst` requests per clock-aligned second and `steady` per clock-aligned minute', () => {
    let now = T0 + 500;
    const limiter = new FixedWindowRateLimiter(() => now);
    const limit = { burst: 2, steady: 3 };
    expect(limiter.take('k', limit)).toEqual({ allowed: true, limit: 3, remaining: 2, resetSeconds: 60 });
    expect(limiter.take('k', limit).allowed).toBe(true);
    expect(limiter.take('k', limit)).toEqual({ allowed: false, window: 'burst', retryAfterSeconds: 1 });
    now = T0 + 1000; // a fixed window: the next second starts afresh, however recent the last request
    expect(limiter.take('k', limit)).toEqual(expect.objectContaining({ allowed: true, remaining: 0 }));
    now = T0 + 2000;
    expect(limiter.take('k', limit)).toEqual({ allowed: false, window: 'steady', retryAfterSeconds: 58 });
    expect(limiter.take('other', limit).allowed).toBe(true);
    now = T0 + 60_000;
    expect(limiter.take('k', limit).allowed).toBe(true);
  });
});

describe('WindowPeakTracker', () => {
  it('keeps the highest count seen in one second and one minute', () => {
    let now = T0;
    const peaks = new WindowPeakTracker(() => now);
    for (let i = 0; i < 3; i++) peaks.record('op');
    now += 1000;
    peaks.record('op');
    expect(peaks.snapshot()).toEqual({ op: { perSecond: 3, perMinute: 4 } });
  });
});
