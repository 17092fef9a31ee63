import type { IncomingHttpHeaders } from 'node:http';
import { klaviyoError, KlaviyoHttpError } from '../klaviyo-error.util';

const AUTH = /^Klaviyo-API-Key\s+(\S+)\s*$/;
/** The revision header's documented format: "YYYY-MM-DD[.suffix]". */
const REVISION = /^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9_-]+)?$/;

/**
 * "Authorization: Klaviyo-API-Key your-private-api-key"; Klaviyo answers 401 ("Not authorized:
 * missing or bad API key") otherwise. Returns the key. `apiKeys` undefined accepts any key.
 */
export function authenticate(headers: IncomingHttpHeaders, apiKeys: ReadonlySet<string> | undefined): string {
  const auth = AUTH.exec(String(headers.authorization ?? ''));
  if (!auth) {
    throw new KlaviyoHttpError(401, [
      klaviyoError(401, 'not_authenticated', 'Authentication credentials were not provided.', 'Missing or invalid Authorization header: expected "Klaviyo-API-Key <private key>".'),
    ]);
  }
  if (apiKeys && !apiKeys.has(auth[1])) {
    throw new KlaviyoHttpError(401, [klaviyoError(401, 'authentication_failed', 'Incorrect authentication credentials.', 'The API key is not valid for this account.')]);
  }
  return auth[1];
}

/** Every operation in contracts/klaviyo declares the `revision` header as required. */
export function checkRevision(headers: IncomingHttpHeaders): void {
  const revision = headers.revision;
  if (typeof revision !== 'string' || !REVISION.test(revision)) {
    throw new KlaviyoHttpError(400, [
      klaviyoError(400, 'invalid', 'Invalid input.', revision ? `Invalid revision header "${String(revision)}": expected YYYY-MM-DD[.suffix].` : 'Missing required header: revision.', { parameter: 'revision' }),
    ]);
  }
}
