/**
 * A failed Intercom REST call. Intercom answers errors as
 * `{ type: "error.list", request_id, errors: [{ code, message }] }`
 * (developers.intercom.com, "Error objects"). Never carries the access token.
 */
export class IntercomApiError extends Error {
  constructor(
    /** HTTP status; 0 for a network error or a timeout (no answer). */
    readonly status: number,
    /** Intercom's `errors[0].code` (e.g. `unauthorized`, `not_found`), or ours: `network_error`, `timeout`. */
    readonly code: string,
    message: string,
    /** 429, 5xx, network errors and timeouts are; 400/401/403/404 are not. */
    readonly retriable: boolean,
    /** A server-mandated wait (from X-RateLimit-Reset on a 429), used by the retry loop. */
    readonly retryAfterMs?: number,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'IntercomApiError';
  }
}
