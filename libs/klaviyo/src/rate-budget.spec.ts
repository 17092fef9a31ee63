import { ManualClock } from '@iks/retry';
import { RateBudget } from './rate-budget';

/** Most grants inside any window of `len` ms, whatever its phase. */
function maxInAnyWindow(times: number[], len: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= len) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('RateBudget', () => {
  it('never passes the burst (1 s) or steady (60 s) window, of any phase, and still uses the full rate', async () => {
    const clock = new ManualClock(1_000_000_123);
    const budget = new RateBudget({ clock, limits: { 'events-bulk': { burst: 10, steady: 150 } } });
    const grants: number[] = [];
    const all = Array.from({ length: 400 }, () =>
      budget.acquire('events-bulk', 'backfill').then(() => grants.push(clock.now())),
    );
    await clock.runAll(10 * 60_000);
    await Promise.all(all);
    expect(grants).toHaveLength(400);
    expect(maxInAnyWindow(grants, 1000)).toBe(10);
    expect(maxInAnyWindow(grants, 60_000)).toBe(150);
    // and so no fixed window of Klaviyo's, wherever it starts, sees more
    for (const phase of [0, 250, 999]) {
      const perSecond = new Map<number, number>();
      for (const t of grants)
        perSecond.set(Math.floor((t - phase) / 1000), (perSecond.get(Math.floor((t - phase) / 1000)) ?? 0) + 1);
      expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(10);
    }
    // full use of both limits: 150 in the first 15 s (10/s), the 151st exactly one minute after
    // the 1st, and the last 100 at 10/s from 120 s
    expect(grants[149] - grants[0]).toBe(14_000);
    expect(grants[150] - grants[0]).toBe(60_000);
    expect(grants[399] - grants[0]).toBe(129_000);
  });

  it('serves waiting live callers before backfill callers, whatever the arrival order', async () => {
    const clock = new ManualClock();
    const budget = new RateBudget({ clock, limits: { events: { burst: 2, steady: 100 } } });
    const order: string[] = [];
    const take = (name: string, p: 'live' | 'backfill') => budget.acquire('events', p).then(() => order.push(name));
    const all = [
      take('b1', 'backfill'),
      take('b2', 'backfill'),
      take('b3', 'backfill'),
      take('b4', 'backfill'),
      take('l1', 'live'),
      take('l2', 'live'),
    ];
    await clock.settle();
    expect(order).toEqual(['b1', 'b2']); // granted immediately: room for 2
    all.push(take('l3', 'live'));
    await clock.runAll();
    await Promise.all(all);
    expect(order).toEqual(['b1', 'b2', 'l1', 'l2', 'l3', 'b3', 'b4']);
  });

  it('pause(ms) holds the group, e.g. for a 429 Retry-After', async () => {
    const clock = new ManualClock();
    const budget = new RateBudget({ clock });
    budget.pause(5000, 'profile-import');
    let granted = false;
    const p = budget.acquire('profile-import').then(() => (granted = true));
    await clock.advance(4999);
    expect(granted).toBe(false);
    await clock.advance(1);
    await p;
    expect(granted).toBe(true);
    // other groups were not paused
    await expect(budget.acquire('events')).resolves.toBeUndefined();
  });

  it('a pause that arrives while a caller waits extends the wait', async () => {
    const clock = new ManualClock();
    const budget = new RateBudget({ clock, limits: { events: { burst: 1, steady: 100 } } });
    await budget.acquire('events');
    let t = -1;
    const p = budget.acquire('events').then(() => (t = clock.now()));
    await clock.advance(500);
    budget.pause(3000);
    await clock.runAll();
    await p;
    expect(t).toBe(3500);
  });

  it('an aborted waiter leaves the queue', async () => {
    const clock = new ManualClock();
    const budget = new RateBudget({ clock, limits: { events: { burst: 1, steady: 100 } } });
    await budget.acquire('events');
    const ac = new AbortController();
    const aborted = budget.acquire('events', 'live', ac.signal).catch((e) => e);
    ac.abort(new Error('stop'));
    expect(((await aborted) as Error).message).toBe('stop');
    expect(budget.usage('events').waitingLive).toBe(0);
  });
});

describe('RateBudget shares (replicas on one account)', () => {
  const limits = { 'events-bulk': { burst: 10, steady: 150 } };

  it('replicas with shares that sum to the limit stay under it together, also across a change of shares', async () => {
    const clock = new ManualClock(5_000_123);
    const a = new RateBudget({ clock, limits });
    const b = new RateBudget({ clock, limits });
    const grants: number[] = [];
    const drain = (budget: RateBudget, n: number) =>
      Array.from({ length: n }, () => budget.acquire('events-bulk', 'backfill').then(() => grants.push(clock.now())));
    // A alone for 20 s (whole limit), then B joins: A reports its grants, both take half of what they leave free
    const first = drain(a, 400);
    await clock.advance(20_000);
    const reported = a.hold(['events-bulk'])['events-bulk'];
    expect(reported.length).toBeGreaterThan(100);
    a.setShare('events-bulk', { burst: 5, steady: 75 }, reported);
    b.setShare('events-bulk', { burst: 5, steady: 75 }, reported);
    const second = drain(b, 400);
    await clock.runAll(20 * 60_000);
    await Promise.all([...first, ...second]);
    expect(maxInAnyWindow(grants, 1000)).toBeLessThanOrEqual(10);
    expect(maxInAnyWindow(grants, 60_000)).toBeLessThanOrEqual(150);
    // and still the full steady rate once the history is out of the window
    const late = grants.filter((t) => t >= grants[0] + 180_000 && t < grants[0] + 240_000);
    expect(late.length).toBe(150);
  });

  it('hold() stops grants until setShare, and a share of 0 grants nothing', async () => {
    const clock = new ManualClock();
    const budget = new RateBudget({ clock, limits });
    budget.hold(['events-bulk']);
    let granted = false;
    const p = budget.acquire('events-bulk').then(() => (granted = true));
    await clock.advance(120_000);
    expect(granted).toBe(false);
    budget.setShare('events-bulk', { burst: 0, steady: 0 }, []);
    await clock.advance(120_000);
    expect(granted).toBe(false);
    budget.setShare('events-bulk', { burst: 1, steady: 1 }, []);
    await clock.advance(1);
    await p;
    expect(granted).toBe(true);
  });

  it('history counts against the share until it leaves the window', async () => {
    const clock = new ManualClock(1_000_000);
    const budget = new RateBudget({ clock, limits });
    // the account spent 150 requests 10 s ago: nothing is free for the next 50 s
    budget.setShare(
      'events-bulk',
      { burst: 10, steady: 150 },
      Array.from({ length: 150 }, () => clock.now() - 10_000),
    );
    let at = 0;
    const p = budget.acquire('events-bulk').then(() => (at = clock.now()));
    await clock.runAll(120_000);
    await p;
    expect(at - 1_000_000).toBe(50_000);
  });

  it('a paced share spreads the steady share over the window: a bounded burst when quiet, paid back within the window, never a stall', async () => {
    const clock = new ManualClock(0);
    const budget = new RateBudget({ clock, limits });
    budget.setShare('events-bulk', { burst: 5, steady: 60 }, [], { paced: true });
    const grants: number[] = [];
    const all = Array.from({ length: 120 }, () =>
      budget.acquire('events-bulk', 'backfill').then(() => grants.push(clock.now())),
    );
    await clock.runAll(10 * 60_000);
    await Promise.all(all);
    expect(grants.filter((t) => t === 0)).toHaveLength(5); // the burst share at once
    expect(maxInAnyWindow(grants, 1000)).toBe(5);
    expect(maxInAnyWindow(grants, 60_000)).toBe(60);
    // not 60 in the first 12 s, then a 48 s stall: never more than two slots (60 s / 60) without a grant
    const gaps = grants.slice(1).map((t, i) => t - grants[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2000);
    expect(grants[119]).toBeLessThan(120_000); // the whole share in each window
  });

  it('a paced caller that comes back faster than the pace gets one grant a slot, not k at once and then a stall of k slots', async () => {
    const clock = new ManualClock(0);
    const budget = new RateBudget({ clock, windowMarginMs: 200 });
    budget.setShare('events-bulk', budget.limitsOf('events-bulk'), [], { paced: true });
    const slot = 60_200 / 150;
    const grants: number[] = [];
    // the sink: its consumer fetches again only once a request is answered, 100 ms after its grant
    const caller = (async () => {
      while (clock.now() < 150_000) {
        await budget.acquire('events-bulk');
        grants.push(clock.now());
        await clock.sleep(100);
      }
    })();
    await clock.runAll(200_000);
    await caller;
    expect(maxInAnyWindow(grants, 1200)).toBeLessThanOrEqual(10);
    expect(maxInAnyWindow(grants, 60_200)).toBeLessThanOrEqual(150);
    const late = grants.filter((t) => t > 70_000);
    const gaps = late.slice(1).map((t, i) => t - late[i]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0.75 * slot - 1e-6);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1.25 * slot + 1e-6);
    expect(late.length).toBeGreaterThanOrEqual(Math.floor(80_000 / slot) - 2); // the full pace
  });

  it('a quiet account may spend part of the window at burst speed, and pays it back within the window: a backlog right after gets grants at least every two slots', async () => {
    const clock = new ManualClock(0);
    const budget = new RateBudget({ clock, windowMarginMs: 200 });
    budget.setShare('events-bulk', budget.limitsOf('events-bulk'), [], { paced: true });
    const slot = 60_200 / 150;
    const grants: number[] = [];
    const caller = (async () => {
      while (clock.now() < 100_000) {
        await budget.acquire('events-bulk');
        grants.push(clock.now());
        await clock.sleep(100);
      }
    })();
    await clock.runAll(200_000);
    await caller;
    // the burst: more than the pace's 25 grants in the first 10 s (and the 30 of ten per ten slots), at most 10 a second
    expect(grants.filter((t) => t < 10_000).length).toBeGreaterThan(31);
    expect(maxInAnyWindow(grants, 1200)).toBeLessThanOrEqual(10);
    expect(maxInAnyWindow(grants, 60_200)).toBeLessThanOrEqual(150);
    const after = grants.filter((t) => t > 2000);
    const gaps = after.slice(1).map((t, i) => t - after[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2 * slot);
  });

  it("burst: false waits for the pace's slot even when a quiet account could burst (a small request leaves the burst to full ones)", async () => {
    const clock = new ManualClock(0);
    const budget = new RateBudget({ clock });
    budget.setShare('events-bulk', budget.limitsOf('events-bulk'), [], { paced: true });
    const at: Record<string, number> = {};
    const take = (name: string, burst: boolean) =>
      budget.acquire('events-bulk', 'live', undefined, { burst }).then(() => (at[name] = clock.now()));
    const first = take('first', false); // nothing spent yet: the pace's slot is now
    await clock.runAll(10_000);
    await first;
    const full = take('full', true);
    await clock.runAll(10_000);
    await full;
    const small = take('small', false);
    await clock.runAll(10_000);
    await small;
    expect(at.first).toBe(0);
    expect(at.full).toBe(0); // a burst grant
    // the pace's slot after the last grant (the quiet account's slower pace: 60 s / (150 − 10)), though a burst grant is free
    expect(at.small).toBeCloseTo(60_000 / 140, 6);
    expect(budget.readyIn('events-bulk', { burst: false })).toBeGreaterThan(0);
  });

  it('after a 429 storm (every grant answered 429, then Retry-After) it throttles no longer than Retry-After or the paced window those grants fill (issue #21)', async () => {
    const clock = new ManualClock(0);
    const budget = new RateBudget({ clock, windowMarginMs: 200 });
    budget.setShare('events-bulk', budget.limitsOf('events-bulk'), [], { paced: true });
    const slot = (60_200 * 10) / 150; // the paced window: 10 grants per 10 steady slots of (60 s + margin) / 150
    const grants: number[] = [];
    const take = async (n: number) => {
      const all = Array.from({ length: n }, () =>
        budget.acquire('events-bulk', 'live').then(() => grants.push(clock.now())),
      );
      await clock.runAll(120_000);
      await Promise.all(all);
    };
    await take(10); // ten requests at t = 0, all answered 429 Retry-After: 1
    expect(grants).toEqual(Array(10).fill(0));
    budget.pause(1000, 'events-bulk');
    await take(1);
    // Retry-After holds it, and the paced window those ten grants fill never longer than `slot`
    expect(grants[10]).toBeGreaterThanOrEqual(1000);
    expect(grants[10]).toBeLessThanOrEqual(slot);
    grants.length = 0;
    // a lone 429 on a budget with room: the next grant comes exactly when Retry-After ends
    const at = clock.now() + 2 * slot;
    await clock.advance(2 * slot);
    budget.pause(1000, 'events-bulk');
    await take(1);
    expect(grants[0] - at).toBe(1000);
  });
});
