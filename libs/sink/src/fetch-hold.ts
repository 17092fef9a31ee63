/**
 * How long a sink slice whose events were delivered waits before it returns. kafkajs fetches a
 * broker's partitions again only once every batch of the last fetch is handled (its fetcher
 * "waits for workerQueue to drain and repeats"), and the sink handles a batch until Klaviyo has
 * answered for it. Returning at once fetched what little had arrived since the grant, and
 * everything written after that fetch waited for the request after next: one pace slot more for
 * most events at a steady rate (the e2e bench's BENCH_BREAKDOWN: 88 % of phase 2's events missed
 * exactly one bulk request). With a paced budget the next request cannot leave before the next
 * grant anyway, so the slice returns FETCH_LEAD_MS before it: the fetch then brings everything
 * written until just before the grant, and that request is fuller too.
 */
import type { RateBudget } from '@iks/klaviyo';

/** About a fetch, its decoding and the events' submission, before the grant. */
export const FETCH_LEAD_MS = 75;
/**
 * From this many events in the slice there is a backlog: the next fetch is large whenever it
 * comes, and decoding it takes longer than FETCH_LEAD_MS (~0.1 ms an event), so the slice does
 * not wait (bench:sink, limits on, with the wait: 88.5 % of the ceiling in the last 60 s).
 */
export const HOLD_BELOW_EVENTS = 500;

/**
 * Milliseconds to wait: until FETCH_LEAD_MS before the slowest of these budgets' next pace slot for
 * a bulk request (the slot a partial request waits for); 0 for unpaced budgets (no pace to wait
 * for), when the slot is free now or soon, and for a slice of HOLD_BELOW_EVENTS events or more;
 * never more than one pace slot of the account's limit.
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
    wait = Math.max(wait, Math.min(ready, slot) - FETCH_LEAD_MS);
  }
  return wait;
}
