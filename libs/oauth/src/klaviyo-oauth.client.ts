import type { Secret } from '@iks/config';
import { tokenEndpointError, OAuthTokenError } from './oauth.errors';

/**
 * The scopes the sink needs, and no more: events (Create Event, Bulk Create Events), profiles
 * (Create or Update Profile, Bulk Import Profiles), data privacy (Request Profile Deletion) and
 * accounts:read (GET /api/accounts, to learn which account the user connected). Checked against
 * the operations' `x-klaviyo-scopes` in contracts/klaviyo (klaviyo-oauth.client.spec.ts).
 */
export const KLAVIYO_SINK_SCOPES: readonly string[] = [
  'accounts:read',
  'data-privacy:write',
  'events:write',
  'profiles:write',
];

export interface KlaviyoOAuthEndpoints {
  /** https://www.klaviyo.com (the authorize page) */
  readonly authorizeBaseUrl: string;
  /** https://a.klaviyo.com (token and revoke) */
  readonly apiBaseUrl: string;
  /** The token endpoint, when not `<apiBaseUrl>/oauth/token` (KLAVIYO_OAUTH_TOKEN_URL). */
  readonly tokenUrl?: string;
}

export const KLAVIYO_OAUTH: KlaviyoOAuthEndpoints = {
  authorizeBaseUrl: 'https://www.klaviyo.com',
  apiBaseUrl: 'https://a.klaviyo.com',
};

/** What the token endpoint answers (Klaviyo, "Make API calls using OAuth"). */
export interface KlaviyoTokens {
  readonly accessToken: Secret;
  readonly refreshToken: Secret;
  /** unix milliseconds */
  readonly expiresAt: number;
  readonly scopes: readonly string[];
}

export interface KlaviyoOAuthClientOptions {
  readonly clientId: string;
  readonly clientSecret: Secret;
  readonly endpoints?: KlaviyoOAuthEndpoints;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  /** Builds a Secret (the config lib's class; injected so this lib stays free of it at run time). */
  readonly secret: (value: string) => Secret;
}

/**
 * Klaviyo's OAuth authorization code flow with PKCE: the authorize URL, the code exchange, the
 * refresh (Klaviyo rotates refresh tokens: the answer's refresh token replaces the old one) and
 * revoke. Client authentication is HTTP Basic with client_id:client_secret, bodies form-encoded.
 */
export class KlaviyoOAuthClient {
  readonly #clientSecret: Secret;
  private readonly endpoints: KlaviyoOAuthEndpoints;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: KlaviyoOAuthClientOptions) {
    this.#clientSecret = opts.clientSecret;
    this.endpoints = opts.endpoints ?? KLAVIYO_OAUTH;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.now = opts.now ?? Date.now;
  }

  get clientId(): string {
    return this.opts.clientId;
  }

  authorizeUrl(p: {
    readonly redirectUri: string;
    readonly state: string;
    readonly codeChallenge: string;
    readonly scopes?: readonly string[];
  }): string {
    const url = new URL('/oauth/authorize', this.endpoints.authorizeBaseUrl);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.opts.clientId);
    url.searchParams.set('redirect_uri', p.redirectUri);
    url.searchParams.set('scope', (p.scopes ?? KLAVIYO_SINK_SCOPES).join(' '));
    url.searchParams.set('state', p.state);
    url.searchParams.set('code_challenge_method', 'S256');
    url.searchParams.set('code_challenge', p.codeChallenge);
    return url.toString();
  }

  exchangeCode(p: { readonly code: string; readonly codeVerifier: string; readonly redirectUri: string }) {
    return this.token('code exchange', {
      grant_type: 'authorization_code',
      code: p.code,
      code_verifier: p.codeVerifier,
      redirect_uri: p.redirectUri,
    });
  }

  refresh(refreshToken: Secret): Promise<KlaviyoTokens> {
    return this.token('token refresh', { grant_type: 'refresh_token', refresh_token: refreshToken.reveal() });
  }

  /** Revokes the grant (a refresh token revokes its access tokens too). */
  async revoke(token: Secret, hint: 'refresh_token' | 'access_token' = 'refresh_token'): Promise<void> {
    const res = await this.post('/oauth/revoke', { token: token.reveal(), token_type_hint: hint });
    if (!res.ok) throw await tokenEndpointError('Klaviyo /oauth/revoke', res);
    await res.arrayBuffer().catch(() => undefined);
  }

  private async token(what: string, form: Record<string, string>): Promise<KlaviyoTokens> {
    const res = await this.post('/oauth/token', form);
    if (!res.ok) throw await tokenEndpointError(`Klaviyo /oauth/token (${what})`, res);
    const body = (await res.json()) as {
      access_token?: unknown;
      refresh_token?: unknown;
      expires_in?: unknown;
      scope?: unknown;
    };
    if (typeof body.access_token !== 'string' || typeof body.refresh_token !== 'string') {
      throw new OAuthTokenError(`Klaviyo /oauth/token (${what}) answered without tokens`, res.status, null, false);
    }
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
    return {
      accessToken: this.opts.secret(body.access_token),
      refreshToken: this.opts.secret(body.refresh_token),
      expiresAt: this.now() + expiresIn * 1000,
      scopes: typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : [],
    };
  }

  private async post(path: string, form: Record<string, string>): Promise<Response> {
    const basic = Buffer.from(`${this.opts.clientId}:${this.#clientSecret.reveal()}`).toString('base64');
    try {
      const url =
        path === '/oauth/token' && this.endpoints.tokenUrl
          ? new URL(this.endpoints.tokenUrl)
          : new URL(path, this.endpoints.apiBaseUrl);
      return await this.fetchFn(url, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new OAuthTokenError(`Klaviyo ${path}: ${(e as Error).message}`, 0, null, false);
    }
  }
}
