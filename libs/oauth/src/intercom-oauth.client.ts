import type { Secret } from '@iks/config';
import { OAuthTokenError, tokenEndpointError } from './oauth.errors';

export interface IntercomOAuthClientOptions {
  readonly clientId: string;
  readonly clientSecret: Secret;
  /** https://app.intercom.com (the authorize page) */
  readonly authorizeBaseUrl?: string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly secret: (value: string) => Secret;
}

/** The workspace an Intercom token belongs to (GET /me). */
export interface IntercomWorkspace {
  readonly appId: string;
  readonly name: string | null;
  readonly region: string | null;
  readonly adminEmail: string | null;
}

/**
 * Intercom's OAuth ("Setting up OAuth", developers.intercom.com): the user is sent to
 * `https://app.intercom.com/oauth?client_id=…&state=…` (and the redirect URL registered for the
 * app), comes back with `code` and `state`, and the code is exchanged at the workspace region's
 * `POST /auth/eagle/token` with client_id and client_secret for an access token that does not
 * expire. `GET /me` tells the workspace (`app.id_code`) and its region.
 */
export class IntercomOAuthClient {
  readonly #clientSecret: Secret;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: IntercomOAuthClientOptions) {
    this.#clientSecret = opts.clientSecret;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  get clientId(): string {
    return this.opts.clientId;
  }

  authorizeUrl(p: { readonly state: string; readonly redirectUri?: string }): string {
    const url = new URL('/oauth', this.opts.authorizeBaseUrl ?? 'https://app.intercom.com');
    url.searchParams.set('client_id', this.opts.clientId);
    url.searchParams.set('state', p.state);
    if (p.redirectUri) url.searchParams.set('redirect_uri', p.redirectUri);
    return url.toString();
  }

  /** `apiBaseUrl`: the region's API host (https://api.intercom.io, https://api.eu.intercom.io, …). */
  async exchangeCode(apiBaseUrl: string, code: string): Promise<Secret> {
    let res: Response;
    try {
      res = await this.fetchFn(new URL('/auth/eagle/token', apiBaseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ code, client_id: this.opts.clientId, client_secret: this.#clientSecret.reveal() }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new OAuthTokenError(`Intercom /auth/eagle/token: ${(e as Error).message}`, 0, null, false);
    }
    if (!res.ok) throw await tokenEndpointError('Intercom /auth/eagle/token', res);
    const body = (await res.json()) as { token?: unknown; access_token?: unknown };
    const token = typeof body.access_token === 'string' ? body.access_token : body.token;
    if (typeof token !== 'string' || token === '')
      throw new OAuthTokenError('Intercom /auth/eagle/token answered without a token', res.status, null, false);
    return this.opts.secret(token);
  }

  async me(apiBaseUrl: string, token: Secret): Promise<IntercomWorkspace> {
    const res = await this.fetchFn(new URL('/me', apiBaseUrl), {
      headers: { authorization: `Bearer ${token.reveal()}`, accept: 'application/json', 'intercom-version': '2.14' },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) throw await tokenEndpointError('Intercom GET /me', res);
    const body = (await res.json()) as {
      email?: unknown;
      app?: { id_code?: unknown; name?: unknown; region?: unknown } | null;
    };
    const appId = body.app?.id_code;
    if (typeof appId !== 'string' || appId === '')
      throw new OAuthTokenError('Intercom GET /me answered without app.id_code', res.status, null, false);
    return {
      appId,
      name: typeof body.app?.name === 'string' ? body.app.name : null,
      region: typeof body.app?.region === 'string' ? body.app.region : null,
      adminEmail: typeof body.email === 'string' ? body.email : null,
    };
  }
}
