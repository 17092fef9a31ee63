import { abortReason, systemClock, type Clock } from './clock';

/** What a failed attempt tells the retry loop (kafkajs-style: errors say if they are retriable). */
export interface RetriableError {
  readonly retriable?: boolean;
  /** A server-mandated wait (e.g. HTTP Retry-After); used instead of the computed backoff. */
  readonly retryAfterMs?: number;
}

export interface RetryInfo {
  readonly error: unknown;
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly elapsedMs: number;
}

export interface RetryOptions {
  /** Retries after the first attempt. Default 5 unless maxElapsedMs is given (then unlimited). */
  readonly retries?: number;
  /**
   * Give up when the next wait would end later than this after the first failure. Counted from
   * the first failure, not the first call, so time spent queued before it (e.g. for a rate
   * budget) does not eat the retry budget.
   */
  readonly maxElapsedMs?: number;
  /** Backoff ceiling for the first retry. Default 300 ms. */
  readonly initialMs?: number;
  /** Backoff cap. Default 30 s. */
  readonly maxMs?: number;
  /**
   * Longest single wait, a server's Retry-After included (default: no cap beyond maxMs). A
   * server that has recovered is then tried again within this long, however long it failed.
   */
  readonly maxDelayMs?: number;
  /** Growth per retry. Default 2. */
  readonly factor?: number;
  /**
   * 'full' (default): wait uniformly in [0, backoff] (AWS "full jitter");
   * a number j in [0, 1]: wait in [backoff * (1 - j), backoff]; 'none': exactly backoff.
   */
  readonly jitter?: 'full' | 'none' | number;
  /** Default: `err.retriable === true`. */
  readonly isRetriable?: (error: unknown) => boolean;
  readonly onRetry?: (info: RetryInfo) => void;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Source of randomness in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

export const defaultIsRetriable = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as RetriableError).retriable === true;

/** The backoff before retry number `attempt` (1-based), before jitter. */
export function backoffCeiling(
  attempt: number,
  opts: Pick<RetryOptions, 'initialMs' | 'maxMs' | 'factor'> = {},
): number {
  const initial = opts.initialMs ?? 300;
  const max = opts.maxMs ?? 30_000;
  const factor = opts.factor ?? 2;
  return Math.min(max, initial * Math.pow(factor, attempt - 1));
}

export function jittered(ceiling: number, jitter: RetryOptions['jitter'], random: () => number): number {
  if (jitter === 'none') return ceiling;
  const j = jitter === undefined || jitter === 'full' ? 1 : Math.min(1, Math.max(0, jitter));
  return Math.round(ceiling * (1 - j) + ceiling * j * random());
}

/**
 * Runs `fn` until it resolves, a non-retriable error is thrown, the retries or the elapsed-time
 * budget run out, or `signal` aborts. Throws the last error unchanged (so its `retriable` and
 * details reach the caller). `fn` gets the attempt number (0 for the first call).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const isRetriable = opts.isRetriable ?? defaultIsRetriable;
  const retries = opts.retries ?? (opts.maxElapsedMs !== undefined ? Number.POSITIVE_INFINITY : 5);
  let firstFailure: number | undefined;
  // The exponent of the computed backoff counts only the waits it computed. A server-mandated
  // wait (a 429's Retry-After) says when to come back, not that the server is failing for an
  // unknown time: three 429s followed by a 500 back off from initialMs, not from initialMs x 2^3
  // (which made the sink's 429-storm test wait 8 + 16 + 30 s for three 500s).
  let backoffStep = 0;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (opts.signal?.aborted) throw abortReason(opts.signal);
      if (!isRetriable(error) || attempt >= retries) throw error;
      const retryAfter = (error as RetriableError | null)?.retryAfterMs;
      const mandated = typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0;
      const delayMs = Math.min(
        opts.maxDelayMs ?? Number.POSITIVE_INFINITY,
        mandated ? retryAfter : jittered(backoffCeiling(++backoffStep, opts), opts.jitter, random),
      );
      firstFailure ??= clock.now();
      const elapsedMs = clock.now() - firstFailure;
      if (opts.maxElapsedMs !== undefined && elapsedMs + delayMs > opts.maxElapsedMs) throw error;
      opts.onRetry?.({ error, attempt: attempt + 1, delayMs, elapsedMs });
      await clock.sleep(delayMs, opts.signal);
    }
  }
}
