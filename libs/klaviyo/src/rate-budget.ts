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
  /** May take one of a quiet account's burst grants (paced: see paceWait); else only the pace's. */
  readonly burst: boolean;
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
  /** Spread the steady share evenly (one grant per window/share, after a bounded burst when quiet) instead of bursting it. */
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

  /**
   * Wait for room in both windows of `group`. Rejects with the signal's reason on abort.
   * `burst: false` (paced shares): wait for the pace's slot even when a quiet account could burst,
   * e.g. for a small request, so that the burst is spent on full ones.
   */
  acquire(
    group: EndpointGroup,
    priority: Priority = 'live',
    signal?: AbortSignal,
    opts: { readonly burst?: boolean } = {},
  ): Promise<void> {
    const state = this.state(group);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const queue = priority === 'live' ? state.live : state.backfill;
      const waiter: Waiter = { burst: opts.burst ?? true, resolve, reject };
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
   * `paced`: the steady share spread evenly over the window (paceWait: a bounded burst when the
   * account is quiet, paid back within its window), so that work waiting for the budget moves
   * steadily instead of in a burst and a long stall: a log that bursts refills in the pattern it
   * was spent, so under a backlog every minute would be 15 s of burst and 45 s of nothing
   * (README, Scaling).
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

  /** Milliseconds until `group` could grant one more request (0: now; Infinity while held), waiting callers aside; `burst` as for acquire. */
  readyIn(group: EndpointGroup, opts: { readonly burst?: boolean } = {}): number {
    return this.waitMs(this.state(group), this.clock.now(), opts.burst ?? true);
  }

  /** Whether `group`'s share is paced (setShare with `paced`). */
  isPaced(group: EndpointGroup): boolean {
    return this.state(group).paced;
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
  private waitMs(s: GroupState, now: number, burst = true): number {
    while (s.grants.length && now - s.grants[0] >= this.steadyMs) s.grants.shift();
    while (s.history.length && now - s.history[0] >= this.steadyMs) s.history.shift();
    if (s.held) return Number.POSITIVE_INFINITY;
    let wait = Math.max(0, s.pausedUntil - now);
    wait = Math.max(wait, this.windowWait(s, now, this.burstMs, s.limits.burst, s.share.burst));
    wait = Math.max(wait, this.windowWait(s, now, this.steadyMs, s.limits.steady, s.share.steady));
    if (s.paced && s.share.steady > 0) wait = Math.max(wait, this.paceWait(s, now, burst));
    return wait;
  }

  /**
   * Paced: how long until one more grant keeps the share flowing evenly. Two rules:
   * - never grant so early that a stream at the pace left for the rest of the window would run
   *   into the steady window later (the log would then stall until old grants leave it: 45 s of
   *   nothing after a burst spent at the start of the minute). The pace left is window / share,
   *   or window / (share − extra) for a quiet account (its own grants in the steady window under
   *   half the share), which may spend `extra` = min(burst share, half the share − those grants)
   *   grants at burst speed: a burst is paid back within its window by that slower pace, and once
   *   it has left the window the full pace comes back. Every interval of the window's length
   *   still holds at most the share, and a backlog still gets the whole share each window;
   * - a caller that takes no burst grant (`burst` false: a small request) one pace after the
   *   last grant, and with no extra left any caller a quarter of that pace early at most: a caller
   *   that comes back faster than the pace gets evenly spaced grants, not k at once and then a
   *   stall of k slots.
   */
  private paceWait(s: GroupState, now: number, burst: boolean): number {
    const share = s.share.steady;
    const len = this.steadyMs;
    const own = s.grants;
    const m = own.length;
    const extra = Math.max(0, Math.min(s.share.burst, Math.floor(share / 2) - m));
    const pace = len / (share - extra);
    // a small request one pace after the last grant; a full one, with no extra left, a quarter early at most
    const spacing = !burst ? pace : extra === 0 ? pace - pace / 4 : 0;
    let wait = m > 0 && spacing > 0 ? Math.max(0, own[m - 1] + spacing - now) : 0;
    // a grant now, then one every `pace`: at now + j·pace the window holds the grants after
    // now + j·pace − len, this one and j more; at most `share`
    for (let j = 1; j * pace < len; j++) {
      const room = share - 1 - j; // of the grants in the log, this many may still be in that window
      if (m <= room) continue;
      wait = Math.max(wait, own[m - room - 1] + len - j * pace - now);
    }
    // the extra grows (and the pace quickens) as grants leave the window: look again then
    if (m > 0 && extra < Math.min(s.share.burst, Math.floor(share / 2)))
      wait = Math.min(wait, Math.max(1, own[0] + len - now));
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
        const wait = this.waitMs(s, now, (s.live[0] ?? s.backfill[0]).burst);
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
