import type { IncomingHttpHeaders } from 'node:http';
import type { AccountRegistry } from '../accounts/account-registry';
import type { EmulatedAccount } from '../accounts/emulated-account';
import { klaviyoError, KlaviyoHttpError } from '../klaviyo-error.util';
import { API_INTEGRATION, type MetricIntegration } from '../metric-integration';
import type { OAuthApps } from '../oauth/oauth-apps';
import type { OAuthGrants } from '../oauth/oauth-grants';

const AUTH = /^Klaviyo-API-Key\s+(\S+)\s*$/;
const BEARER = /^Bearer\s+(\S+)\s*$/;
/** The revision header's documented format: "YYYY-MM-DD[.suffix]". */
const REVISION = /^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9_-]+)?$/;

/** Who sent a request: a private key of an account, or an OAuth app's access token for an account. */
export type Principal =
  | {
      readonly kind: 'key';
      readonly key: string;
      readonly account: EmulatedAccount;
      readonly integration: MetricIntegration;
    }
  | {
      readonly kind: 'oauth';
      readonly clientId: string;
      readonly account: EmulatedAccount;
      readonly scopes: readonly string[];
      readonly integration: MetricIntegration;
    };

/** What a stored event or deletion records as its sender: the key, or `oauth:<client_id>` (never a token). */
export function senderLabel(p: Principal): string {
  return p.kind === 'key' ? p.key : `oauth:${p.clientId}`;
}

const refused = (detail: string) =>
  new KlaviyoHttpError(401, [
    klaviyoError(401, 'authentication_failed', 'Incorrect authentication credentials.', detail),
  ]);

/**
 * "Authorization: Klaviyo-API-Key your-private-api-key" (a private key: every scope) or, for OAuth apps,
 * "Authorization: Bearer <access_token>" (the scopes granted). Klaviyo answers 401 otherwise: a missing
 * header, a key no account holds, an unknown, expired or revoked token.
 */
export function authenticate(
  headers: IncomingHttpHeaders,
  accounts: AccountRegistry,
  apps: OAuthApps,
  grants: OAuthGrants,
): Principal {
  const header = String(headers.authorization ?? '');
  const key = AUTH.exec(header);
  if (key) {
    const account = accounts.forKey(key[1]);
    if (!account) throw refused('The API key is not valid for this account.');
    return { kind: 'key', key: key[1], account, integration: API_INTEGRATION };
  }
  const bearer = BEARER.exec(header);
  if (bearer) {
    const check = grants.check(bearer[1]);
    if (!check.ok) {
      throw refused(
        check.reason === 'expired'
          ? 'The access token expired; refresh it.'
          : check.reason === 'revoked'
            ? 'The access token was revoked.'
            : 'The access token is not valid.',
      );
    }
    const app = apps.get(check.grant.clientId);
    const account = accounts.get(check.grant.accountId);
    if (!app || !account) throw refused('The access token is not valid.');
    return { kind: 'oauth', clientId: app.clientId, account, scopes: check.scopes, integration: app.integration };
  }
  throw new KlaviyoHttpError(401, [
    klaviyoError(
      401,
      'not_authenticated',
      'Authentication credentials were not provided.',
      'Missing or invalid Authorization header: expected "Klaviyo-API-Key <private key>" or "Bearer <OAuth access token>".',
    ),
  ]);
}

/** 403 `permission_denied` when an OAuth token lacks one of the operation's scopes (a private key has them all). */
export function checkScopes(principal: Principal, required: readonly string[]): void {
  if (principal.kind === 'key') return;
  const missing = required.filter((s) => !principal.scopes.includes(s));
  if (missing.length === 0) return;
  throw new KlaviyoHttpError(403, [
    klaviyoError(
      403,
      'permission_denied',
      'You do not have permission to perform this action.',
      `This endpoint needs the scope(s) ${missing.join(', ')}, which the access token was not granted.`,
    ),
  ]);
}

/** Every operation in contracts/klaviyo declares the `revision` header as required. */
export function checkRevision(headers: IncomingHttpHeaders): void {
  const revision = headers.revision;
  if (typeof revision !== 'string' || !REVISION.test(revision)) {
    throw new KlaviyoHttpError(400, [
      klaviyoError(
        400,
        'invalid',
        'Invalid input.',
        revision
          ? `Invalid revision header "${String(revision)}": expected YYYY-MM-DD[.suffix].`
          : 'Missing required header: revision.',
        { parameter: 'revision' },
      ),
    ]);
  }
}
