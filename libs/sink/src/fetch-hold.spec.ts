import { ManualClock } from '@iks/retry';
import { RateBudget } from '@iks/klaviyo';
import { FETCH_LEAD_MS, fetchHoldMs, HOLD_BELOW_EVENTS } from './fetch-hold';

describe('fetchHoldMs (a slice releases its batch just before the next bulk grant)', () => {
  const paced = (clock: ManualClock) => {
    const budget = new RateBudget({ clock, windowMarginMs: 200 });
    budget.setShare('events-bulk', budget.limitsOf('events-bulk'), [], { paced: true });
    return budget;
  };

  it('waits until FETCH_LEAD_MS before the next grant of a paced budget that has spent its burst', async () => {
    const clock = new ManualClock(0);
    const budget = paced(clock);
    // a backlog: grants every slot once the quiet account's burst is spent
    const grants: number[] = [];
    const all = Array.from({ length: 120 }, () => budget.acquire('events-bulk').then(() => grants.push(clock.now())));
    await clock.runAll(120_000);
    await Promise.all(all);
    await clock.advance(100);
    const ready = budget.readyIn('events-bulk');
    expect(ready).toBeGreaterThan(FETCH_LEAD_MS);
    expect(fetchHoldMs([budget])).toBeCloseTo(ready - FETCH_LEAD_MS, 6);
    expect(fetchHoldMs([budget], HOLD_BELOW_EVENTS - 1)).toBeCloseTo(ready - FETCH_LEAD_MS, 6);
    // a backlog: the next fetch is large and takes longer to decode than the lead, so no wait
    expect(fetchHoldMs([budget], HOLD_BELOW_EVENTS)).toBe(0);
  });

  it('waits for the slot after the next one when the next is FETCH_LEAD_MS away or less (it takes what is queued now)', async () => {
    const slot = 60_000 / 150;
    const clock = new ManualClock(0);
    // a quiet account: a grant now, so the next fetch comes just before the pace's slot after it
    expect(fetchHoldMs([paced(clock)])).toBeCloseTo(slot - FETCH_LEAD_MS, 6);
    const budget = paced(clock);
    const all = Array.from({ length: 40 }, () => budget.acquire('events-bulk'));
    await clock.runAll(30_000);
    await Promise.all(all);
    const ready = budget.readyIn('events-bulk', { burst: false });
    await clock.advance(ready - 50); // the next slot is 50 ms away
    expect(fetchHoldMs([budget])).toBeCloseTo(50 + slot - FETCH_LEAD_MS, 6);
  });

  it('does not wait when the budget is not paced, or held for a rebalance', () => {
    const clock = new ManualClock(0);
    expect(fetchHoldMs([new RateBudget({ clock })])).toBe(0);
    const held = paced(clock);
    held.hold(['events-bulk']);
    expect(fetchHoldMs([held])).toBe(0);
    expect(fetchHoldMs([])).toBe(0);
  });

  it('never waits longer than one pace slot of the account (a 429 pause or a small share is not waited out here)', () => {
    const clock = new ManualClock(0);
    const budget = paced(clock);
    budget.pause(30_000, 'events-bulk');
    expect(fetchHoldMs([budget])).toBeCloseTo(60_000 / 150 - FETCH_LEAD_MS, 6);
  });
});
