import { isRetriableStatus } from '@iks/retry';

/**
 * One entry of Klaviyo's JSON:API error body:
 * `{"errors":[{"id","status","code","title","detail","source":{"pointer"|"parameter"}}]}`
 * (components.responses.ClientError / ServerError in contracts/klaviyo/*.json).
 */
export interface KlaviyoErrorObject {
  readonly id?: string;
  readonly status?: number | string;
  readonly code?: string;
  readonly title?: string;
  readonly detail?: string;
  readonly source?: { readonly pointer?: string; readonly parameter?: string };
}

/**
 * A failed Klaviyo call. `retriable` follows Klaviyo's error guidance: 408, 429 and 5xx (and
 * network errors/timeouts, `status: null`) may succeed later; other 4xx will not.
 * The message never contains the API key or request headers.
 */
export class KlaviyoApiError extends Error {
  override readonly name = 'KlaviyoApiError';
  /** HTTP status, or null when no response arrived (network error, timeout). */
  readonly status: number | null;
  readonly code: string;
  readonly detail: string;
  readonly pointer: string | null;
  readonly retriable: boolean;
  /** From Retry-After (429/503), in milliseconds. */
  readonly retryAfterMs?: number;
  /** Every error object Klaviyo returned. */
  readonly errors: readonly KlaviyoErrorObject[];

  constructor(init: {
    status: number | null;
    code: string;
    detail: string;
    pointer?: string | null;
    retriable?: boolean;
    retryAfterMs?: number;
    errors?: readonly KlaviyoErrorObject[];
    operation?: string;
    cause?: unknown;
  }) {
    super(`${init.operation ? `${init.operation}: ` : ''}${init.status ?? 'network'} ${init.code}: ${init.detail}`, {
      cause: init.cause,
    });
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.pointer = init.pointer ?? null;
    this.retriable = init.retriable ?? isRetriableStatus(init.status);
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    this.errors = init.errors ?? [];
  }
}
