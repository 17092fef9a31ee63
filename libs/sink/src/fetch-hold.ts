/**
 * How long a sink slice of events waits, once they are queued for their bulk request, before it
 * lets the consumer fetch again. kafkajs fetches a broker's partitions again only once every
 * batch of the last fetch is handled; the sink's consumer is pipelined (libs/stage), so a slice
 * releases its batch while its events wait for their grant, and without a wait the consumer
 * fetched again at once, over and over, a few records each time (10 fetches a second at
 * 1,000 events/s: the sink's CPU per event 1.4-1.8x). With a paced budget the next request cannot
 * leave before the next grant anyway, so the slice releases FETCH_LEAD_MS before the grant that
 * follows the one its events will ride: that fetch brings everything written until just before
 * that grant, and the request is fuller too. One fetch a grant, and a request's partial tail waits
 * for the next fetch's events instead of going alone.
 */
import type { RateBudget } from '@iks/klaviyo';

/**
 * About a fetch, its decoding, opening and the events' submission, before the grant: a grant's
 * worth of events at 1,000 a second is ~400 of them, 60-80 ms at the sink's 0.15-0.2 ms an event
 * on a slow day of this 2-core machine (75 ms, the lead of the lockstep consumer, then missed
 * grants: e2e bench phase 2 p99 757 ms against 721 with 150, single runs, docs/BENCHMARKS.md).
 */
export const FETCH_LEAD_MS = 150;
/**
 * From this many events in the slice there is a backlog: the next fetch is large whenever it
 * comes, and decoding it takes longer than FETCH_LEAD_MS (~0.1 ms an event), so the slice does
 * not wait (bench:sink, limits on, with the wait: 88.5 % of the ceiling in the last 60 s).
 */
export const HOLD_BELOW_EVENTS = 500;

/**
 * Milliseconds to wait: until FETCH_LEAD_MS before the slowest of these budgets' next pace slot
 * for a bulk request (the slot a partial request waits for), or when that slot is FETCH_LEAD_MS
 * away or less (it takes what is queued now), before the slot after it; 0 for unpaced budgets
 * (no pace to wait for), for budgets held for a rebalance, and for a slice of HOLD_BELOW_EVENTS
 * events or more (a backlog); never more than one pace slot of the account's limit.
 */
export function fetchHoldMs(budgets: readonly RateBudget[], events = 0): number {
  if (events >= HOLD_BELOW_EVENTS) return 0;
  let wait = 0;
  for (const budget of budgets) {
    if (!budget.isPaced('events-bulk')) continue;
    // the pace's slot, not a burst grant: the event stream spends a quiet account's burst on full requests only
    const ready = budget.readyIn('events-bulk', { burst: false });
    if (!Number.isFinite(ready)) continue; // held for a rebalance: the slice gives up elsewhere
    const slot = 60_000 / Math.max(1, budget.limitsOf('events-bulk').steady);
    const next = ready > FETCH_LEAD_MS ? Math.min(ready, slot) : ready + slot;
    wait = Math.max(wait, next - FETCH_LEAD_MS);
  }
  return wait;
}
