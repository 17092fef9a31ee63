import { KLAVIYO_REVISION } from '@iks/domain';
import { isRetriableStatus } from '@iks/retry';
import { KlaviyoApiError, type KlaviyoErrorObject } from './klaviyo-api.error';
export const KLAVIYO_BASE_URL = 'https://a.klaviyo.com';
const JSON_API = 'application/vnd.api+json';

export interface KlaviyoHttpClientOptions {
  /** Private API key, sent as `Authorization: Klaviyo-API-Key <key>`. Never logged. */
  readonly apiKey?: string;
  /**
   * The Authorization header of each request, instead of `apiKey`: the seam for OAuth (issue #23),
   * `Bearer <access token>`, refreshed by whoever holds the grant. What it returns is redacted
   * from errors like the key.
   */
  readonly authorization?: () => string | Promise<string>;
  readonly baseUrl?: string;
  readonly revision?: string;
  /** Per-request timeout (default 30 s); a timeout is a retriable error. */
  readonly timeoutMs?: number;
  /** Defaults to global fetch. */
  readonly fetch?: typeof fetch;
}

/** Klaviyo's steady-window state, sent on every non-429 response (rate limits guide). */
export interface KlaviyoRateLimitState {
  readonly limit?: number;
  readonly remaining?: number;
  readonly resetSeconds?: number;
}

export interface KlaviyoResponse<T = unknown> {
  readonly status: number;
  readonly body: T | undefined;
  readonly rateLimit: KlaviyoRateLimitState;
}

export interface RequestOptions {
  readonly signal?: AbortSignal;
}

/** A thin client over fetch: auth, revision and JSON:API headers, timeout, typed errors. */
export class KlaviyoHttpClient {
  private readonly baseUrl: string;
  private readonly revision: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly authorization: () => string | Promise<string>;
  /** Credentials sent so far (the key, or each Bearer token): never in an error's text. */
  private readonly credentials = new Set<string>();

  constructor(opts: KlaviyoHttpClientOptions) {
    const apiKey = opts.apiKey;
    if (!apiKey && !opts.authorization) throw new Error('KlaviyoHttpClient: apiKey is required');
    if (apiKey) this.credentials.add(apiKey);
    this.authorization = opts.authorization ?? (() => `Klaviyo-API-Key ${apiKey}`);
    this.baseUrl = (opts.baseUrl ?? KLAVIYO_BASE_URL).replace(/\/+$/, '');
    this.revision = opts.revision ?? KLAVIYO_REVISION;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  post<T = unknown>(path: string, body: unknown, opts: RequestOptions = {}): Promise<KlaviyoResponse<T>> {
    return this.request<T>('POST', path, body, opts);
  }

  get<T = unknown>(path: string, opts: RequestOptions = {}): Promise<KlaviyoResponse<T>> {
    return this.request<T>('GET', path, undefined, opts);
  }

  async request<T>(
    method: string,
    path: string,
    body: unknown,
    opts: RequestOptions = {},
  ): Promise<KlaviyoResponse<T>> {
    const operation = `${method} ${path}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      const authorization = await this.authorization();
      const credential = authorization.slice(authorization.indexOf(' ') + 1);
      if (credential) this.credentials.add(credential);
      res = await this.fetchFn(`${this.baseUrl}${path}`, {
        method,
        headers: {
          Authorization: authorization,
          revision: this.revision,
          accept: JSON_API,
          ...(body === undefined ? {} : { 'content-type': JSON_API }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      text = await res.text();
    } catch (err) {
      // A caller's abort is a shutdown, not a Klaviyo failure: rethrow it as is.
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      const timedOut = timeout.aborted;
      throw new KlaviyoApiError({
        status: null,
        code: timedOut ? 'timeout' : 'network_error',
        detail: this.redact(timedOut ? `no response within ${this.timeoutMs} ms` : describe(err)),
        retriable: true,
        operation,
      });
    }
    const parsed = parseJson(text);
    if (res.ok) return { status: res.status, body: parsed as T | undefined, rateLimit: rateLimitState(res.headers) };
    throw this.toError(operation, res, parsed);
  }

  private toError(operation: string, res: Response, parsed: unknown): KlaviyoApiError {
    const errors: KlaviyoErrorObject[] = Array.isArray((parsed as { errors?: unknown })?.errors)
      ? (parsed as { errors: KlaviyoErrorObject[] }).errors
      : [];
    const first = errors[0];
    const retryAfterMs =
      parseRetryAfter(res.headers.get('retry-after'), Date.now()) ??
      (res.status === 429 ? secondsHeader(res.headers.get('ratelimit-reset')) : undefined);
    return new KlaviyoApiError({
      status: res.status,
      code: first?.code ?? `http_${res.status}`,
      detail: this.redact(first?.detail ?? first?.title ?? res.statusText ?? ''),
      pointer: first?.source?.pointer ?? null,
      retriable: isRetriableStatus(res.status),
      retryAfterMs,
      errors: errors.map((e) => ({ ...e, detail: e.detail === undefined ? undefined : this.redact(e.detail) })),
      operation,
    });
  }

  /** Keeps the key out of anything that may be logged or dead-lettered. */
  private redact(text: string): string {
    let out = text;
    for (const c of this.credentials) out = out.split(c).join('[REDACTED]');
    return out;
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return [e?.message, e?.cause?.code ?? e?.cause?.message].filter(Boolean).join(': ') || String(err);
}

/** Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function secondsHeader(value: string | null): number | undefined {
  const n = value === null ? NaN : Number(value);
  return Number.isFinite(n) && n >= 0 ? Math.ceil(n * 1000) : undefined;
}

function rateLimitState(h: Headers): KlaviyoRateLimitState {
  const num = (name: string) => {
    const v = h.get(name);
    const n = v === null ? NaN : Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  return { limit: num('ratelimit-limit'), remaining: num('ratelimit-remaining'), resetSeconds: num('ratelimit-reset') };
}
