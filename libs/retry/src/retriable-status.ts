/**
 * Whether an HTTP failure may succeed if tried again: 408 Request Timeout, 429 Too Many
 * Requests, 5xx, and no response at all (`null`: network error, timeout). Other 4xx will not.
 * Klaviyo ("Rate limits, status codes, and errors") and Intercom ("Error objects") agree.
 * 501 Not Implemented is the exception among 5xx (RFC 9110 §15.6.2: the server does not support
 * the method for any resource): the Intercom emulator answers it for a route it does not serve.
 */
export function isRetriableStatus(status: number | null): boolean {
  return status === null || status === 408 || status === 429 || (status >= 500 && status !== 501);
}
