/**
 * Klaviyo rate limits (developers.klaviyo.com/en/docs/rate_limits_and_error_handling): "rate
 * limited on a per-account basis, and use a fixed-window rate limiting algorithm with two
 * distinct windows: burst (1-second window) and steady (1-minute window)"; going over either
 * gives HTTP 429 with Retry-After. Limits per endpoint are the `x-klaviyo-ratelimit` of each
 * operation in contracts/klaviyo/*.json.
 */
import { abortReason, systemClock, type Clock } from '@iks/retry';
import type { Priority } from './delivery-result';

export interface WindowLimits {
  /** Requests per burst window (1 s). */
  readonly burst: number;
  /** Requests per steady window (60 s). */
  readonly steady: number;
}

/** Endpoint groups: one rate-limit bucket each, per account. */
export type EndpointGroup = 'events-bulk' | 'events' | 'profile-import' | 'data-privacy-deletion';

export const KLAVIYO_RATE_LIMITS: Readonly<Record<EndpointGroup, WindowLimits>> = {
  /** bulk_create_events: burst 10/s, steady 150/m */
  'events-bulk': { burst: 10, steady: 150 },
  /** create_event: burst 350/s, steady 3500/m */
  events: { burst: 350, steady: 3500 },
  /** create_or_update_profile: the contract says 75/s, 750/m; the docs' tier L says 700/m: use the lower. */
  'profile-import': { burst: 75, steady: 700 },
  /** request_profile_deletion: burst 3/s, steady 60/m */
  'data-privacy-deletion': { burst: 3, steady: 60 },
};

export interface RateBudgetOptions {
  readonly limits?: Partial<Record<EndpointGroup, WindowLimits>>;
  readonly clock?: Clock;
  readonly burstWindowMs?: number;
  readonly steadyWindowMs?: number;
  /** Added to both windows, to absorb network jitter between our grant and Klaviyo's count. */
  readonly windowMarginMs?: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  cancel?: () => void;
}

interface GroupState {
  readonly limits: WindowLimits;
  /** This process's part of the account's limits (all of them unless a share was set). */
  share: WindowLimits;
  /** Requests sent on the account before the share was set (every replica's), ascending. */
  history: number[];
  /** Held (no grants at all) from a rebalance's start until the new share is set. */
  held: boolean;
  /** Spread the steady share evenly (one grant per window/share) instead of bursting it. */
  paced: boolean;
  /** Grant times, ascending, within the last steady window. */
  grants: number[];
  readonly live: Waiter[];
  readonly backfill: Waiter[];
  pausedUntil: number;
  pumping: boolean;
  wake: AbortController | null;
}

/**
 * Admission control for one Klaviyo account. `acquire` resolves when a request may be sent
 * without passing either window, serving every waiting live caller before any backfill one.
 *
 * Klaviyo counts in fixed windows whose phase we cannot see, so the budget keeps a log of grant
 * times and admits a request only if no interval of the window's length (of any phase) would
 * hold more than the limit; that never exceeds Klaviyo's fixed windows wherever they start,
 * and still averages the full limit.
 *
 * Replicas on one account each take a share (`setShare`): in any window a replica grants at
 * most its share of what the account's history (the grants every replica made before the share
 * was set) leaves free, floor(share × (limit − history) / limit). Shares sum to at most the
 * limit, so the replicas together stay under it in every interval of the window's length, of
 * any phase, across the change of shares too. `hold` stops all grants while a rebalance runs.
 */
export class RateBudget {
  private readonly clock: Clock;
  private readonly burstMs: number;
  private readonly steadyMs: number;
  private readonly limits: Record<EndpointGroup, WindowLimits>;
  private readonly groups = new Map<EndpointGroup, GroupState>();

  constructor(opts: RateBudgetOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    const margin = opts.windowMarginMs ?? 0;
    this.burstMs = (opts.burstWindowMs ?? 1000) + margin;
    this.steadyMs = (opts.steadyWindowMs ?? 60_000) + margin;
    this.limits = { ...KLAVIYO_RATE_LIMITS, ...opts.limits } as Record<EndpointGroup, WindowLimits>;
  }

  /** Wait for room in both windows of `group`. Rejects with the signal's reason on abort. */
  acquire(group: EndpointGroup, priority: Priority = 'live', signal?: AbortSignal): Promise<void> {
    const state = this.state(group);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const queue = priority === 'live' ? state.live : state.backfill;
      const waiter: Waiter = { resolve, reject };
      if (signal) {
        const onAbort = () => {
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
          reject(abortReason(signal));
          this.nudge(state);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.cancel = () => signal.removeEventListener('abort', onAbort);
      }
      queue.push(waiter);
      void this.pump(state);
    });
  }

  /**
   * Hold `group` (or every group) for `ms`, e.g. after a 429's Retry-After: Klaviyo's window is
   * full whatever our log says (another client on the same account, or a phase we misjudged).
   */
  pause(ms: number, group?: EndpointGroup): void {
    const until = this.clock.now() + Math.max(0, ms);
    const targets = group ? [this.state(group)] : [...this.groups.values()];
    for (const s of targets) {
      s.pausedUntil = Math.max(s.pausedUntil, until);
      this.nudge(s);
    }
  }

  /**
   * Stop granting in `groups` until `setShare` (a rebalance started: this replica's share is
   * about to change) and return this replica's grants within the last steady window, per group.
   */
  hold(groups: readonly EndpointGroup[]): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    const now = this.clock.now();
    for (const group of groups) {
      const s = this.state(group);
      s.held = true;
      out[group] = s.grants.filter((t) => now - t < this.steadyMs);
    }
    return out;
  }

  /**
   * This replica's share of `group`'s limits from now on, given every grant made on the account
   * before now (all replicas', this one's included: its own log restarts empty). Ends a `hold`.
   * `paced`: at most k grants per k × (steady window / steady share), k = the burst share, so that work waiting for the
   * budget moves steadily instead of in a burst and a long stall: a log that bursts refills in
   * the pattern it was spent, so under a backlog every minute would be 15 s of burst and 45 s
   * of nothing (README, Scaling).
   */
  setShare(
    group: EndpointGroup,
    share: WindowLimits,
    history: readonly number[],
    opts: { paced?: boolean } = {},
  ): void {
    const s = this.state(group);
    s.paced = opts.paced ?? false;
    s.share = { burst: Math.min(share.burst, s.limits.burst), steady: Math.min(share.steady, s.limits.steady) };
    s.history = [...history].sort((a, b) => a - b);
    s.grants = [];
    s.held = false;
    this.nudge(s);
  }

  /** The limits of `group` on the whole account. */
  limitsOf(group: EndpointGroup): WindowLimits {
    return this.state(group).limits;
  }

  /** Grants in the current burst and steady windows, and callers waiting. */
  usage(group: EndpointGroup): { burst: number; steady: number; waitingLive: number; waitingBackfill: number } {
    const s = this.state(group);
    const now = this.clock.now();
    return {
      burst: s.grants.filter((t) => now - t < this.burstMs).length,
      steady: s.grants.filter((t) => now - t < this.steadyMs).length,
      waitingLive: s.live.length,
      waitingBackfill: s.backfill.length,
    };
  }

  private state(group: EndpointGroup): GroupState {
    let s = this.groups.get(group);
    if (!s) {
      const limits = this.limits[group];
      if (!limits) throw new Error(`RateBudget: no limits for ${group}`);
      s = {
        limits,
        share: limits,
        history: [],
        held: false,
        paced: false,
        grants: [],
        live: [],
        backfill: [],
        pausedUntil: 0,
        pumping: false,
        wake: null,
      };
      this.groups.set(group, s);
    }
    return s;
  }

  /** Milliseconds until one more request fits both windows and any pause is over (Infinity while held). */
  private waitMs(s: GroupState, now: number): number {
    while (s.grants.length && now - s.grants[0] >= this.steadyMs) s.grants.shift();
    while (s.history.length && now - s.history[0] >= this.steadyMs) s.history.shift();
    if (s.held) return Number.POSITIVE_INFINITY;
    let wait = Math.max(0, s.pausedUntil - now);
    wait = Math.max(wait, this.windowWait(s, now, this.burstMs, s.limits.burst, s.share.burst));
    wait = Math.max(wait, this.windowWait(s, now, this.steadyMs, s.limits.steady, s.share.steady));
    if (s.paced && s.share.steady > 0) {
      // k grants per k steady-slots: even pace, with room to catch up k - 1 slots left unused
      const k = Math.max(1, Math.min(s.share.burst, s.share.steady));
      wait = Math.max(wait, this.windowWait(s, now, (this.steadyMs * k) / s.share.steady, k, k));
    }
    return wait;
  }

  /**
   * Wait until one more grant fits the window of `len` ms ending now: this replica's grants in
   * it stay within its share of what the account's history in it leaves free. Without a share
   * (share = limit, no history) this is: the limit-th most recent grant must leave the window.
   */
  private windowWait(s: GroupState, now: number, len: number, limit: number, share: number): number {
    const from = now - len;
    const own = s.grants.filter((t) => t > from);
    const before = s.history.filter((t) => t > from);
    const allowed = Math.floor((share * Math.max(0, limit - before.length)) / limit);
    if (own.length < allowed) return 0;
    // something has to leave the window first: one of our grants, or history (which frees share)
    const candidates: number[] = [];
    if (allowed > 0) candidates.push(own[own.length - allowed] + len - now);
    if (before.length > 0) candidates.push(before[0] + len - now);
    return candidates.length ? Math.min(...candidates) : Number.POSITIVE_INFINITY;
  }

  private nudge(s: GroupState): void {
    s.wake?.abort();
  }

  private async pump(s: GroupState): Promise<void> {
    if (s.pumping) return;
    s.pumping = true;
    try {
      while (s.live.length || s.backfill.length) {
        const now = this.clock.now();
        const wait = this.waitMs(s, now);
        if (wait > 0) {
          s.wake = new AbortController();
          // held, or a share of 0: sleep until setShare/pause/abort nudges
          await this.clock.sleep(Number.isFinite(wait) ? wait : this.steadyMs, s.wake.signal).catch(() => undefined);
          s.wake = null;
          continue;
        }
        const w = s.live.shift() ?? s.backfill.shift()!;
        s.grants.push(now);
        w.cancel?.();
        w.resolve();
      }
    } finally {
      s.pumping = false;
    }
  }
}
