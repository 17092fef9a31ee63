/**
 * The one way the sink calls Klaviyo: the account's rate budget, the retry of 408/429/5xx and
 * network errors (every wait capped), and the classification of a failure:
 * - the record's fault (other 4xx, or retries exhausted): a KlaviyoApiError for the deliverer
 *   to turn into that record's rejection;
 * - Klaviyo refuses the API key (401/403): systemic, not the record's fault and not for good.
 *   The request is retried without end (capped backoff, no time budget), an alert is raised
 *   through onSystemic and cleared through onRecovered when a request is accepted again;
 * - a wrong base URL or media type (404/405/415), a programming error, shutdown: thrown.
 *   Dead-lettering every record for those would empty the topic into the DLQ.
 * With an AccountCircuit (the sink: one per connection), a refused key, a misconfigured URL and a
 * lasting streak of retriable failures open the account's circuit instead: the request gives up
 * with AccountUnavailableError (deliverOne: an `unavailable` result) and the sink parks its
 * record, so one account never holds another's (docs/CONNECTIONS.md, "Isolation in the sink").
 */
import { Logger } from '@nestjs/common';
import { defaultIsRetriable, retry, systemClock, type Clock, type RetryInfo } from '@iks/retry';
import { AccountUnavailableError, type AccountCircuit } from './account-circuit';
import { DELIVERED, rejected, unavailable, type DeliveryResult, type Priority } from './delivery-result';
import { KlaviyoApiError } from './klaviyo-api.error';
import type { KlaviyoHttpClient, KlaviyoResponse } from './klaviyo-http.client';
import { RateBudget, type EndpointGroup } from './rate-budget';

/** 401: missing or invalid key; 403: the key lacks a scope (events:write, profiles:write, data-privacy:write). */
const KEY_REFUSED = new Set([401, 403]);
const MISCONFIGURED = new Set([404, 405, 415]);
/** While the key is refused, the error line is repeated at most this often. */
const REFUSED_LOG_EVERY_MS = 60_000;

export interface DeliveryRetryOptions {
  /** How long to keep retrying 408/429/5xx/network for one request, from its first failure. Default 6 h. */
  readonly maxElapsedMs?: number;
  /** Backoff ceiling of the first retry. Default 1 s. */
  readonly initialMs?: number;
  /** Longest single wait (backoff and Retry-After alike), so a recovered Klaviyo is used soon. Default 30 s. */
  readonly maxDelayMs?: number;
  readonly factor?: number;
  readonly jitter?: 'full' | 'none' | number;
  readonly random?: () => number;
}

export interface KlaviyoCallerOptions {
  readonly client: Pick<KlaviyoHttpClient, 'request'>;
  /** Share one per Klaviyo account across everything that calls it. */
  readonly budget?: RateBudget;
  readonly clock?: Clock;
  readonly retry?: DeliveryRetryOptions;
  /** Aborts waits and retries (shutdown). */
  readonly signal?: AbortSignal;
  /** The account's circuit (the sink's per-connection isolation); without one, a refused key is retried in place. */
  readonly circuit?: AccountCircuit;
  /** Called before each retry wait, e.g. for metrics. */
  readonly onRetry?: (operation: string, info: RetryInfo) => void;
  /** Called each time Klaviyo refuses the API key (401/403); the request waits and tries again. */
  readonly onSystemic?: (status: number) => void;
  /** Called once when a request is accepted after onSystemic: the key works again. */
  readonly onRecovered?: () => void;
  /**
   * Called after every HTTP attempt (retries included, rate-budget wait excluded), e.g. for a
   * latency histogram: Klaviyo's status, or 'network' when no answer arrived (network error,
   * timeout, abort); `seconds` by the caller's clock.
   */
  readonly onResponse?: (operation: string, status: number | 'network', seconds: number) => void;
}

export interface KlaviyoRequest {
  readonly group: EndpointGroup;
  readonly priority: Priority;
  readonly path: string;
  readonly body: unknown;
  /** The caller already holds a rate grant for the first attempt. */
  readonly granted?: boolean;
  /** Called when the request starts waiting to retry (its caller may free a concurrency slot). */
  readonly onBackoff?: () => void;
}

export class KlaviyoCaller {
  private readonly logger = new Logger(KlaviyoCaller.name);
  readonly budget: RateBudget;
  readonly clock: Clock;
  readonly signal: AbortSignal | undefined;
  private readonly client: Pick<KlaviyoHttpClient, 'request'>;
  private readonly retryOpts: DeliveryRetryOptions;
  private refused: { status: number; loggedAt: number } | null = null;
  readonly circuit: AccountCircuit | undefined;

  constructor(private readonly opts: KlaviyoCallerOptions) {
    this.client = opts.client;
    this.clock = opts.clock ?? systemClock;
    this.budget = opts.budget ?? new RateBudget({ clock: this.clock });
    this.signal = opts.signal;
    this.retryOpts = opts.retry ?? {};
    this.circuit = opts.circuit;
  }

  /** The account's circuit is open: requests would not go (the event stream does not spend a grant on them). Half open lets the probe go. */
  get unavailable(): string | null {
    const c = this.circuit;
    return c && c.state === 'open' ? (c.reason ?? 'circuit open') : null;
  }

  /** The status Klaviyo refuses the API key with right now (401/403), or null. */
  get systemicStatus(): number | null {
    return this.refused?.status ?? null;
  }

  /**
   * Klaviyo's answer, or the error that is the record's fault (KlaviyoApiError: a non-retriable
   * 4xx, or `retriable` once maxElapsedMs ran out). Throws anything else (see the file comment).
   */
  async send(req: KlaviyoRequest): Promise<KlaviyoResponse> {
    const r = this.retryOpts;
    const operation = `POST ${req.path}`;
    const maxDelayMs = r.maxDelayMs ?? 30_000;
    const circuit = this.circuit;
    // the circuit's signal aborts when it opens: a request waiting to retry, or for the budget, gives up then
    const signal = circuit
      ? this.signal
        ? AbortSignal.any([this.signal, circuit.signal])
        : circuit.signal
      : this.signal;
    const backoff = {
      initialMs: r.initialMs ?? 1000,
      maxMs: maxDelayMs,
      maxDelayMs,
      factor: r.factor ?? 2,
      jitter: r.jitter ?? 'full',
      random: r.random,
      clock: this.clock,
      signal,
    } as const;
    let granted = req.granted ?? false;
    let backingOff = false;
    const waiting = (info: RetryInfo) => {
      if (!backingOff) req.onBackoff?.();
      backingOff = true;
      this.opts.onRetry?.(operation, info);
    };
    const attempt = async () => {
      if (circuit && !circuit.admit()) throw new AccountUnavailableError(circuit.reason ?? 'circuit open');
      if (granted) granted = false;
      else await this.budget.acquire(req.group, req.priority, signal);
      const started = this.clock.now();
      const answered = (status: number | 'network') =>
        this.opts.onResponse?.(operation, status, (this.clock.now() - started) / 1000);
      try {
        const res = await this.client.request<unknown>('POST', req.path, req.body, { signal: this.signal });
        answered(res.status);
        return res;
      } catch (err) {
        answered(err instanceof KlaviyoApiError && err.status !== null ? err.status : 'network');
        // a 429 pauses the whole endpoint group, so other callers do not walk into the same full window;
        // no longer than maxDelayMs ("Retry-After included", as the retry's wait): a probe after a
        // long Retry-After would otherwise wait in the budget, holding its batch, the whole Retry-After
        if (err instanceof KlaviyoApiError && err.status === 429)
          this.budget.pause(Math.min(err.retryAfterMs ?? 1000, maxDelayMs), req.group);
        if (circuit && err instanceof KlaviyoApiError) {
          const systemic = err.status !== null && (KEY_REFUSED.has(err.status) || MISCONFIGURED.has(err.status));
          if (systemic || err.retriable) {
            const open = circuit.failed({
              status: err.status,
              code: err.code,
              retriable: err.retriable,
              retryAfterMs: err.retryAfterMs,
            });
            if (systemic && !open) circuit.trip(`Klaviyo answers ${err.status} ${err.code}`);
            if (systemic || open) {
              if (systemic) this.logger.error(`${operation}: ${err.message}: the account's records are parked`);
              throw new AccountUnavailableError(circuit.reason ?? `${err.status} ${err.code}`);
            }
          } else circuit.succeeded(); // a refusal of the record: the account answers
        }
        throw err;
      }
    };
    const unlessUnavailable = (e: unknown) => !(e instanceof AccountUnavailableError) && defaultIsRetriable(e);
    const res = await retry(
      () =>
        retry(attempt, {
          ...backoff,
          isRetriable: unlessUnavailable,
          maxElapsedMs: r.maxElapsedMs ?? 6 * 3600_000,
          onRetry: (info) => {
            this.logger.warn(
              `${operation} attempt ${info.attempt} in ${info.delayMs} ms: ${(info.error as Error)?.message}`,
            );
            waiting(info);
          },
        }),
      {
        ...backoff,
        retries: Number.POSITIVE_INFINITY,
        isRetriable: isKeyRefusal,
        onRetry: (info) => {
          this.keyRefused(info.error as KlaviyoApiError, operation, info.delayMs);
          waiting(info);
        },
      },
    );
    // (the circuit opening while this request waited ends the wait with its AccountUnavailableError)
    circuit?.succeeded();
    this.accepted();
    return res;
  }

  /** One request whose failure belongs to its one record. */
  async deliverOne(req: KlaviyoRequest): Promise<DeliveryResult> {
    try {
      await this.send(req);
      return DELIVERED;
    } catch (err) {
      if (err instanceof AccountUnavailableError) return unavailable(err.reason);
      return refusal(recordFault(err));
    }
  }

  private keyRefused(err: KlaviyoApiError, operation: string, delayMs: number): void {
    const status = err.status!;
    const now = this.clock.now();
    if (!this.refused || this.refused.status !== status || now - this.refused.loggedAt >= REFUSED_LOG_EVERY_MS) {
      // err.detail comes redacted from the client; the key itself is never in it
      this.logger.error(
        `Klaviyo refuses the API key (${status} ${err.code}: ${err.detail}) on ${operation}: nothing is delivered or dead-lettered ` +
          `until it accepts it again; retrying in ${delayMs} ms (KLAVIYO_API_KEY and its scopes events:write, profiles:write, data-privacy:write)`,
      );
      this.refused = { status, loggedAt: now };
    }
    this.opts.onSystemic?.(status);
  }

  private accepted(): void {
    if (!this.refused) return;
    this.refused = null;
    this.logger.log('Klaviyo accepts the API key again: delivering');
    this.opts.onRecovered?.();
  }
}

function isKeyRefusal(err: unknown): boolean {
  return err instanceof KlaviyoApiError && err.status !== null && KEY_REFUSED.has(err.status);
}

/** The error as the record's fault; rethrows what is not (see the file comment). */
export function recordFault(err: unknown): KlaviyoApiError {
  if (
    !(err instanceof KlaviyoApiError) ||
    (err.status !== null && (MISCONFIGURED.has(err.status) || KEY_REFUSED.has(err.status)))
  )
    throw err;
  return err;
}

/** A record's rejection carrying Klaviyo's error. */
export function refusal(e: KlaviyoApiError): DeliveryResult {
  return rejected({ status: e.status, code: e.code, detail: e.detail, pointer: e.pointer, retriable: e.retriable });
}
