import type { KlaviyoOperation } from './klaviyo-emulator.constants';

/** What a fault predicate sees of one event of a create request. */
export interface EventFaultView {
  readonly metric: string;
  readonly unique_id: string | null;
  readonly profile: {
    readonly email?: string | null;
    readonly phone_number?: string | null;
    readonly external_id?: string | null;
    readonly id?: string | null;
  };
  readonly properties: Record<string, unknown>;
}

export type EventMatcher = string | ((event: EventFaultView) => boolean);

/** The 5xx statuses an outage can answer with. */
export type OutageStatus = 500 | 502 | 503 | 504;
const OUTAGE_STATUSES: readonly number[] = [500, 502, 503, 504];

export type RequestFault =
  | { readonly kind: '500'; readonly status?: OutageStatus }
  | { readonly kind: '401' }
  | { readonly kind: '403' }
  | { readonly kind: '429'; readonly retryAfterSeconds: number }
  | { readonly kind: 'timeout'; readonly ms: number; readonly processed: boolean; readonly reset: boolean }
  | { readonly kind: 'delay'; readonly ms: number };

interface Queued {
  fault: RequestFault;
  remaining: number;
  endpoint?: KlaviyoOperation;
}

interface EventRule {
  readonly match: EventMatcher;
  remaining: number;
  readonly detail: string;
}

/** What an operation asks of the faults: whether an event of the request is to be rejected. */
export interface EventRejections {
  readonly hasEventRules: boolean;
  rejects(event: EventFaultView): string | undefined;
}

/** The emulator-wide event rules, then the account's own. */
export function combinedRejections(...sets: readonly KlaviyoEmulatorFaults[]): EventRejections {
  return {
    get hasEventRules() {
      return sets.some((f) => f.hasEventRules);
    },
    rejects(event) {
      for (const f of sets) {
        const detail = f.hasEventRules ? f.rejects(event) : undefined;
        if (detail !== undefined) return detail;
      }
      return undefined;
    },
  };
}

/** JSON accepted by `POST /__emulator/faults` (every key optional). */
export interface FaultRequest {
  readonly clear?: boolean;
  readonly endpoint?: KlaviyoOperation;
  readonly next500?: number;
  readonly next429?: number;
  readonly retryAfterSeconds?: number;
  readonly storm429Ms?: number;
  /** Every API request answers 500 for this long (an outage). */
  readonly outage500Ms?: number;
  /** The status of `outage500Ms` (default 500; 502, 503, 504 also). */
  readonly outageStatus?: OutageStatus;
  /** Every API request answers 401 for this long (the key revoked, then restored). */
  readonly refuseKeyMs?: number;
  /** Every API request answers 403 `permission_denied` for this long (the key's scopes withdrawn). */
  readonly forbidMs?: number;
  readonly timeout?: {
    readonly count?: number;
    readonly ms: number;
    readonly processed?: boolean;
    readonly reset?: boolean;
  };
  readonly delay?: { readonly count?: number; readonly ms: number };
  readonly rejectUniqueIds?: readonly string[];
  readonly rejectMetrics?: readonly string[];
}

/**
 * Faults to inject into the /api endpoints. Request faults are consumed in the order they were
 * added, one per request (optionally only for one endpoint); a 429 storm answers every request
 * with 429 until it ends; event rules fail the whole create request holding a matching event
 * with 400, pointing at that event, as Klaviyo does for an invalid event in a bulk request.
 */
export class KlaviyoEmulatorFaults {
  private queue: Queued[] = [];
  private stormUntil = 0;
  private outageUntil = 0;
  private refuseUntil = 0;
  private forbidUntil = 0;
  private outageStatus: OutageStatus = 500;
  private eventRules: EventRule[] = [];

  constructor(private readonly now: () => number) {}

  /** The next `n` API requests (of `endpoint`, if given) answer 500 and store nothing. */
  next500(n = 1, endpoint?: KlaviyoOperation): this {
    this.queue.push({ fault: { kind: '500' }, remaining: n, endpoint });
    return this;
  }

  /** The next `n` API requests answer 429 with `Retry-After: retryAfterSeconds`. */
  next429(n = 1, retryAfterSeconds = 1, endpoint?: KlaviyoOperation): this {
    this.queue.push({ fault: { kind: '429', retryAfterSeconds }, remaining: n, endpoint });
    return this;
  }

  /** Every API request answers 429 for the next `ms` milliseconds (Retry-After = seconds left). */
  storm429(ms: number): this {
    this.stormUntil = this.now() + ms;
    return this;
  }

  /** Every API request answers 500 (or `status`: 502, 503, 504) for the next `ms` milliseconds. */
  outage500(ms: number, status: OutageStatus = 500): this {
    if (!OUTAGE_STATUSES.includes(status))
      throw new RangeError(`an outage answers 500, 502, 503 or 504, not ${status}`);
    this.outageUntil = this.now() + ms;
    this.outageStatus = status;
    return this;
  }

  /** Every API request answers 403 `permission_denied` for the next `ms` milliseconds. */
  forbid(ms: number): this {
    this.forbidUntil = this.now() + ms;
    return this;
  }

  /** Every API request answers 401 (key not valid) for the next `ms` milliseconds. */
  refuseKey(ms: number): this {
    this.refuseUntil = this.now() + ms;
    return this;
  }

  /**
   * The next `n` API requests get no answer: the connection is closed after `ms` (a long `ms`:
   * a stalled answer). With `processed`, the request is applied first (the response was lost, not
   * the request); with `reset`, the connection is reset (TCP RST) instead of closed.
   */
  timeout(
    n = 1,
    ms = 30_000,
    options: { processed?: boolean; reset?: boolean; endpoint?: KlaviyoOperation } = {},
  ): this {
    const fault = {
      kind: 'timeout' as const,
      ms,
      processed: options.processed ?? false,
      reset: options.reset ?? false,
    };
    this.queue.push({ fault, remaining: n, endpoint: options.endpoint });
    return this;
  }

  /** The next `n` API requests are answered normally but only after `ms`. */
  delay(n = 1, ms = 1000, endpoint?: KlaviyoOperation): this {
    this.queue.push({ fault: { kind: 'delay', ms }, remaining: n, endpoint });
    return this;
  }

  /**
   * Any create request holding an event that matches (a unique_id, or a predicate) fails with 400
   * and nothing of it is stored; `times` limits how often (default: until cleared).
   */
  rejectEvent(match: EventMatcher, options: { times?: number; detail?: string } = {}): this {
    this.eventRules.push({
      match,
      remaining: options.times ?? Number.POSITIVE_INFINITY,
      detail: options.detail ?? 'This event was rejected.',
    });
    return this;
  }

  clear(): this {
    this.queue = [];
    this.stormUntil = 0;
    this.outageUntil = 0;
    this.refuseUntil = 0;
    this.forbidUntil = 0;
    this.outageStatus = 500;
    this.eventRules = [];
    return this;
  }

  apply(request: FaultRequest): this {
    if (request.clear) this.clear();
    if (request.next500) this.next500(request.next500, request.endpoint);
    if (request.next429) this.next429(request.next429, request.retryAfterSeconds ?? 1, request.endpoint);
    if (request.storm429Ms) this.storm429(request.storm429Ms);
    if (request.outage500Ms) this.outage500(request.outage500Ms, request.outageStatus ?? 500);
    if (request.refuseKeyMs) this.refuseKey(request.refuseKeyMs);
    if (request.forbidMs) this.forbid(request.forbidMs);
    if (request.timeout)
      this.timeout(request.timeout.count ?? 1, request.timeout.ms, {
        processed: request.timeout.processed,
        reset: request.timeout.reset,
        endpoint: request.endpoint,
      });
    if (request.delay) this.delay(request.delay.count ?? 1, request.delay.ms, request.endpoint);
    for (const id of request.rejectUniqueIds ?? []) this.rejectEvent(id);
    for (const metric of request.rejectMetrics ?? []) this.rejectEvent((e) => e.metric === metric);
    return this;
  }

  get hasEventRules(): boolean {
    return this.eventRules.length > 0;
  }

  describe(): Record<string, unknown> {
    return {
      queued: this.queue.map((q) => ({ ...q.fault, remaining: q.remaining, endpoint: q.endpoint ?? null })),
      storm429Ms: Math.max(0, this.stormUntil - this.now()),
      outage500Ms: Math.max(0, this.outageUntil - this.now()),
      outageStatus: this.outageStatus,
      refuseKeyMs: Math.max(0, this.refuseUntil - this.now()),
      forbidMs: Math.max(0, this.forbidUntil - this.now()),
      eventRules: this.eventRules.map((r) => ({
        match: typeof r.match === 'string' ? r.match : 'predicate',
        remaining: r.remaining,
      })),
    };
  }

  /** Takes the fault for this request, if any. */
  takeRequestFault(endpoint: KlaviyoOperation): RequestFault | undefined {
    const t = this.now();
    if (this.refuseUntil > t) return { kind: '401' };
    if (this.forbidUntil > t) return { kind: '403' };
    if (this.outageUntil > t) return { kind: '500', status: this.outageStatus };
    if (this.stormUntil > t)
      return { kind: '429', retryAfterSeconds: Math.max(1, Math.ceil((this.stormUntil - t) / 1000)) };
    const i = this.queue.findIndex((q) => !q.endpoint || q.endpoint === endpoint);
    if (i < 0) return undefined;
    const q = this.queue[i];
    if (--q.remaining <= 0) this.queue.splice(i, 1);
    return q.fault;
  }

  /** The rule's detail if this event is to be rejected (and uses up one of the rule's times). */
  rejects(event: EventFaultView): string | undefined {
    for (let i = 0; i < this.eventRules.length; i++) {
      const r = this.eventRules[i];
      const hit = typeof r.match === 'string' ? event.unique_id === r.match : r.match(event);
      if (!hit) continue;
      if (--r.remaining <= 0) this.eventRules.splice(i, 1);
      return r.detail;
    }
    return undefined;
  }
}
