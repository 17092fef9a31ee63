/**
 * An OAuth endpoint refused or could not answer. `permanent`: asking again with the same
 * grant cannot succeed (invalid_grant, invalid_client, unauthorized_client, a revoked or
 * rotated-away refresh token): the connection needs the user to authorize again. Otherwise
 * (network, 5xx, 429) it is worth another try later.
 */
export class OAuthTokenError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly error: string | null,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'OAuthTokenError';
  }
}

const PERMANENT = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'unsupported_grant_type']);

/** The error of an OAuth token endpoint's answer (RFC 6749 5.2), never echoing a token. */
export async function tokenEndpointError(what: string, res: Response): Promise<OAuthTokenError> {
  let error: string | null = null;
  let description = '';
  try {
    const body = (await res.json()) as { error?: unknown; error_description?: unknown };
    if (typeof body.error === 'string') error = body.error;
    if (typeof body.error_description === 'string') description = body.error_description.slice(0, 300);
  } catch {
    /* not JSON */
  }
  const permanent = (error !== null && PERMANENT.has(error)) || res.status === 401;
  return new OAuthTokenError(
    `${what} answered ${res.status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`,
    res.status,
    error,
    permanent,
  );
}
