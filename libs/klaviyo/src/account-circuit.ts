/**
 * One Klaviyo account's (one connection's) circuit breaker, so that an account that cannot take
 * requests stops holding anyone else's (docs/CONNECTIONS.md, "Isolation in the sink"):
 * - closed: requests go. A refused key (401/403) opens it at once; retriable failures (408, 429,
 *   5xx, network) open it when they last `tripAfterMs` without a single success in between
 *   (a 429 storm, minutes of 5xx), or at once when a Retry-After says they will (a 429 storm
 *   whose Retry-After is longer than what is left of `tripAfterMs`). One success ends a streak.
 * - open: no request goes (`admit` is false and `signal` is aborted, so requests waiting for a
 *   retry or for the rate budget give up at once); its records are parked by the sink. From
 *   `retryAt` on, `beginProbe` lets exactly one request through (half open).
 * - half open: the one probe request is on the wire. Accepted: closed. Failed: open again, the
 *   next probe after twice the wait (capped at `probeMaxMs`, and never before a Retry-After).
 * Pure state with an injectable clock: the caller reports, the sink routes by it.
 */
import { systemClock, type Clock } from '@iks/retry';

export type CircuitState = 'closed' | 'open' | 'half_open';

/** What the caller saw: a Klaviyo status (null: no answer), and whether Klaviyo invites a retry. */
export interface CircuitFailure {
  readonly status: number | null;
  readonly code: string;
  readonly retriable: boolean;
  readonly retryAfterMs?: number;
}

export interface AccountCircuitOptions {
  /** Retriable failures for this long without a success open the circuit. Default 10 s. */
  readonly tripAfterMs?: number;
  /** First wait before a probe. Default 1 s. */
  readonly probeInitialMs?: number;
  /** Longest wait between probes. Default 30 s. */
  readonly probeMaxMs?: number;
  readonly clock?: Clock;
}

/** 401: the key is missing or invalid; 403: it lacks a scope. Not the record's fault, and not for good. */
export const KEY_REFUSED_STATUSES: ReadonlySet<number> = new Set([401, 403]);

/** A request not sent because its account's circuit is open: not the record's fault; the sink parks the record. */
export class AccountUnavailableError extends Error {
  override readonly name = 'AccountUnavailableError';
  readonly retriable = true;
  readonly code = 'account_unavailable';
  constructor(readonly reason: string) {
    super(`Klaviyo account unavailable: ${reason}`);
  }
}

export class AccountCircuit {
  private readonly clock: Clock;
  private readonly tripAfterMs: number;
  private readonly probeInitialMs: number;
  private readonly probeMaxMs: number;
  private current: CircuitState = 'closed';
  private why: string | null = null;
  private streakSince: number | null = null;
  private openedAt: number | null = null;
  private nextProbeAt = 0;
  private probeWaitMs: number;
  private permit = false;
  private abort = new AbortController();
  private readonly listeners = new Set<(state: CircuitState, reason: string | null) => void>();
  /** Times the circuit opened (from closed or half open). */
  trips = 0;

  constructor(opts: AccountCircuitOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.tripAfterMs = opts.tripAfterMs ?? 10_000;
    this.probeInitialMs = opts.probeInitialMs ?? 1000;
    this.probeMaxMs = Math.max(this.probeInitialMs, opts.probeMaxMs ?? 30_000);
    this.probeWaitMs = this.probeInitialMs;
  }

  get state(): CircuitState {
    return this.current;
  }

  /** Why it is not closed (a refused key, a 429 storm, 5xx), or null. Never holds a secret: Klaviyo's code and status only. */
  get reason(): string | null {
    return this.why;
  }

  /** unix ms the circuit opened (null while closed). */
  get since(): number | null {
    return this.openedAt;
  }

  /** When the next probe may go (meaningful while open). */
  get retryAt(): number {
    return this.nextProbeAt;
  }

  /** Aborted while the circuit is open: waits (retry backoff, rate budget) end with AccountUnavailableError. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Whether a request may go now. In half open, exactly one request takes the permit. */
  admit(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'half_open' && this.permit) {
      this.permit = false;
      return true;
    }
    return false;
  }

  /** Open and the wait before the next probe is over. */
  probeDue(now = this.clock.now()): boolean {
    return this.current === 'open' && now >= this.nextProbeAt;
  }

  /** Open → half open with one permit, when the probe is due; false otherwise (someone else probes, or not yet). */
  beginProbe(): boolean {
    if (!this.probeDue()) return false;
    this.current = 'half_open';
    this.permit = true;
    this.abort = new AbortController();
    this.emit();
    return true;
  }

  /** The probe never went (its record was withdrawn, or taken by nothing): open again, the next probe after the same wait. */
  probeAbandoned(): void {
    if (this.current !== 'half_open') return;
    this.current = 'open';
    this.permit = false;
    this.nextProbeAt = this.clock.now() + this.probeWaitMs;
    this.abort.abort(new AccountUnavailableError(this.why ?? 'probe abandoned'));
    this.emit();
  }

  /** A request was accepted (2xx, or a 4xx that is the record's fault: the account answers). */
  succeeded(): void {
    this.streakSince = null;
    if (this.current === 'closed') return;
    this.current = 'closed';
    this.why = null;
    this.openedAt = null;
    this.permit = false;
    this.probeWaitMs = this.probeInitialMs;
    this.abort = new AbortController();
    this.emit();
  }

  /** A request failed in a way that is not the record's fault. Returns whether the circuit is (now) open. */
  failed(f: CircuitFailure): boolean {
    const now = this.clock.now();
    const refused = f.status !== null && KEY_REFUSED_STATUSES.has(f.status);
    const label = refused
      ? `Klaviyo refuses the credential (${f.status} ${f.code})`
      : f.status === 429
        ? `Klaviyo throttles the account (429 ${f.code})`
        : `Klaviyo fails (${f.status ?? 'network'} ${f.code})`;
    if (this.current === 'half_open') {
      this.probeWaitMs = Math.min(this.probeMaxMs, this.probeWaitMs * 2);
      this.open(now, label, f.retryAfterMs);
      return true;
    }
    if (this.current === 'open') return true;
    if (!refused && !f.retriable) return false;
    this.streakSince ??= now;
    const failingMs = now - this.streakSince;
    // a Retry-After reaching past the trip time: the account will not answer before then, and
    // the request would wait it out (the budget is paused) holding everyone else's records that long
    const toldToWait = !refused && f.retryAfterMs !== undefined && failingMs + f.retryAfterMs >= this.tripAfterMs;
    if (refused || failingMs >= this.tripAfterMs || toldToWait) {
      this.open(
        now,
        refused
          ? label
          : toldToWait && failingMs < this.tripAfterMs
            ? `${label}, Retry-After ${Math.round(f.retryAfterMs! / 1000)} s`
            : `${label}, failing for ${Math.round(failingMs / 1000)} s`,
        f.retryAfterMs,
      );
      return true;
    }
    return false;
  }

  /** Open on purpose (tests, an operator): like a failure that trips. */
  trip(reason: string): void {
    if (this.current !== 'open') this.open(this.clock.now(), reason);
  }

  onChange(listener: (state: CircuitState, reason: string | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private open(now: number, reason: string, retryAfterMs?: number): void {
    this.current = 'open';
    this.why = reason;
    this.openedAt ??= now;
    this.permit = false;
    this.streakSince = null;
    this.trips++;
    this.nextProbeAt = now + Math.max(this.probeWaitMs, Math.min(retryAfterMs ?? 0, this.probeMaxMs));
    this.abort.abort(new AccountUnavailableError(reason));
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) l(this.current, this.why);
  }
}
