import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AccountRegistry } from '../accounts/account-registry';
import { KLAVIYO_SCOPES } from '../klaviyo-emulator.constants';
import { consentPage, errorPage } from './authorize-page';
import type { OAuthApp, OAuthApps } from './oauth-apps';
import { OAuthError, type OAuthGrants } from './oauth-grants';
import { CODE_CHALLENGE } from './pkce';

/**
 * Klaviyo's OAuth endpoints ("Make API calls using OAuth", developers.klaviyo.com/en/docs/set_up_oauth):
 * the authorize page (`https://www.klaviyo.com/oauth/authorize?response_type=code&client_id=…&redirect_uri=…
 * &scope=…&state=…&code_challenge_method=S256&code_challenge=…`), the token endpoint
 * (`https://a.klaviyo.com/oauth/token`, form-encoded, "Authorization: Basic <base64 encoded
 * client_id:client_secret>") and `https://a.klaviyo.com/oauth/revoke`. One host serves all three here.
 */
export class OAuthEndpoints {
  constructor(
    private readonly apps: OAuthApps,
    private readonly grants: OAuthGrants,
    private readonly accounts: AccountRegistry,
    private readonly baseUrl: () => string,
  ) {}

  handle(
    method: string,
    path: string,
    query: URLSearchParams,
    headers: IncomingHttpHeaders,
    raw: Buffer | 'too-large',
    res: ServerResponse,
  ): void {
    if (path === '/oauth/authorize') {
      if (method === 'GET') return this.authorizePage(query, res);
      if (method === 'POST') return this.authorizeAnswer(headers, raw, res);
      return page(res, 405, errorPage('Method not allowed', `${method} is not allowed on /oauth/authorize.`));
    }
    if (path === '/oauth/token' || path === '/oauth/revoke') {
      if (method !== 'POST')
        return oauthJson(res, 405, { error: 'invalid_request', error_description: `${path} accepts POST only.` });
      try {
        const { app, form } = this.clientRequest(headers, raw);
        if (path === '/oauth/token') return oauthJson(res, 200, this.token(app, form));
        const token = form.get('token');
        if (!token) throw new OAuthError(400, 'invalid_request', 'token is required.');
        this.grants.revoke(app.clientId, token);
        res.writeHead(200, { 'Content-Length': '0', 'Cache-Control': 'no-store' });
        return void res.end();
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        const extra: Record<string, string> =
          err.error === 'invalid_client' ? { 'WWW-Authenticate': 'Basic realm="Klaviyo OAuth"' } : {};
        return oauthJson(res, err.status, { error: err.error, error_description: err.description }, extra);
      }
    }
    return oauthJson(res, 404, { error: 'not_found', error_description: `No OAuth endpoint ${path}.` });
  }

  /** GET /oauth/authorize: every parameter checked before anything is stored or any redirect is made. */
  private authorizePage(q: URLSearchParams, res: ServerResponse): void {
    const refuse = (title: string, detail: string) => page(res, 400, errorPage(title, detail));
    // RFC 6749 3.1: "Request and response parameters MUST NOT be included more than once."
    for (const name of AUTHORIZE_PARAMETERS)
      if (q.getAll(name).length > 1) return refuse('Repeated parameter', `${name} appears more than once.`);
    const clientId = q.get('client_id');
    const app = clientId ? this.apps.get(clientId) : undefined;
    if (!app)
      return refuse(
        'Unknown app',
        clientId ? 'No OAuth app has this client_id.' : 'The client_id parameter is missing.',
      );
    const redirectUri = q.get('redirect_uri');
    if (!redirectUri) return refuse('Missing redirect URI', 'The redirect_uri parameter is required.');
    if (!app.redirectUris.has(redirectUri)) {
      return refuse(
        'Redirect URI not registered',
        `${redirectUri} is not one of the redirect URIs registered for ${app.name}; it must match one exactly.`,
      );
    }
    if (q.get('response_type') !== 'code')
      return refuse('Unsupported response type', 'response_type must be "code" (the authorization code flow).');
    if (q.get('code_challenge_method') !== 'S256') {
      return refuse('PKCE required', 'code_challenge_method must be "S256" (plain is not accepted).');
    }
    const challenge = q.get('code_challenge');
    if (!challenge || !CODE_CHALLENGE.test(challenge)) {
      return refuse(
        'Invalid PKCE code challenge',
        'code_challenge must be the base64url SHA-256 of the code verifier: 43 characters of A-Z, a-z, 0-9, "-" and "_".',
      );
    }
    const scope = q.get('scope');
    const scopes = (scope ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0)
      return refuse('Missing scope', 'The scope parameter must list the scopes the app asks for, separated by spaces.');
    const unknown = scopes.filter((s) => !KLAVIYO_SCOPES.includes(s));
    if (unknown.length > 0) return refuse('Invalid scope', `Unknown scope: ${unknown.join(', ')}.`);
    const unregistered = scopes.filter((s) => !app.scopes.has(s));
    if (unregistered.length > 0)
      return refuse('Invalid scope', `${app.name} is not registered for: ${unregistered.join(', ')}.`);
    const state = q.get('state');
    if (!state)
      return refuse('Missing state', 'The state parameter is required; the app must check it when it is sent back.');
    const pending = this.grants.holdRequest({
      clientId: app.clientId,
      redirectUri,
      scopes: [...new Set(scopes)],
      state,
      codeChallenge: challenge,
    });
    page(res, 200, consentPage(app, pending, this.accounts.list()), new URL(redirectUri).origin);
  }

  /** POST /oauth/authorize (the page's form): Allow issues a single-use code; Deny sends access_denied. */
  private authorizeAnswer(headers: IncomingHttpHeaders, raw: Buffer | 'too-large', res: ServerResponse): void {
    const origin = headers.origin;
    if (origin !== undefined && origin !== 'null' && origin !== new URL(this.baseUrl()).origin) {
      return page(
        res,
        403,
        errorPage('Cross-site request refused', 'The authorization form must be sent from this page.'),
      );
    }
    if (!isForm(headers) || raw === 'too-large')
      return page(res, 400, errorPage('Bad request', 'The form must be sent as application/x-www-form-urlencoded.'));
    const form = new URLSearchParams(raw.toString('utf8'));
    const pending = this.grants.takeRequest(form.get('request_id') ?? '');
    if (!pending)
      return page(
        res,
        400,
        errorPage(
          'Authorization request expired',
          'This request was already answered or is too old; start the installation again.',
        ),
      );
    const target = new URL(pending.redirectUri);
    const decision = form.get('decision');
    if (decision === 'deny') {
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_description', 'The user denied the request.');
    } else if (decision === 'allow') {
      const account = this.accounts.get(form.get('account_id') ?? '');
      if (!account)
        return page(res, 400, errorPage('Choose an account', 'No such account; start the installation again.'));
      target.searchParams.set('code', this.grants.issueCode(pending, account.id));
    } else {
      return page(res, 400, errorPage('Bad request', 'decision must be allow or deny.'));
    }
    target.searchParams.set('state', pending.state);
    res.writeHead(302, { Location: target.toString(), 'Content-Length': '0', 'Cache-Control': 'no-store' });
    res.end();
  }

  /** The token and revoke endpoints' client authentication: HTTP Basic only, form-encoded body. */
  private clientRequest(
    headers: IncomingHttpHeaders,
    raw: Buffer | 'too-large',
  ): { app: OAuthApp; form: URLSearchParams } {
    if (!isForm(headers) || raw === 'too-large')
      throw new OAuthError(400, 'invalid_request', 'The body must be application/x-www-form-urlencoded.');
    const form = new URLSearchParams(raw.toString('utf8'));
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/.exec(String(headers.authorization ?? ''));
    if (!basic) {
      const detail = form.has('client_secret')
        ? 'Send the client credentials as "Authorization: Basic <base64 client_id:client_secret>", not in the body.'
        : 'Missing "Authorization: Basic <base64 client_id:client_secret>".';
      throw new OAuthError(401, 'invalid_client', detail);
    }
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const rawId = colon < 0 ? decoded : decoded.slice(0, colon);
    const rawSecret = colon < 0 ? '' : decoded.slice(colon + 1);
    // RFC 6749 2.3.1 form-encodes both before base64; most clients do not: accept either.
    let clientId = rawId;
    let app = this.apps.authenticate(rawId, rawSecret);
    if (!app) {
      clientId = safeDecode(rawId);
      app = this.apps.authenticate(clientId, safeDecode(rawSecret));
    }
    if (!app)
      throw new OAuthError(
        401,
        'invalid_client',
        'Client authentication failed: unknown client_id or wrong client_secret.',
      );
    const bodyId = form.get('client_id');
    if (bodyId !== null && bodyId !== clientId)
      throw new OAuthError(400, 'invalid_request', 'client_id in the body differs from the authenticated client.');
    return { app, form };
  }

  private token(app: OAuthApp, form: URLSearchParams): unknown {
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const code = form.get('code');
      if (!code) throw new OAuthError(400, 'invalid_request', 'code is required.');
      return this.grants.exchangeCode(
        app.clientId,
        code,
        form.get('redirect_uri') ?? undefined,
        form.get('code_verifier') ?? undefined,
      );
    }
    if (grantType === 'refresh_token') {
      const refresh = form.get('refresh_token');
      if (!refresh) throw new OAuthError(400, 'invalid_request', 'refresh_token is required.');
      return this.grants.refresh(app.clientId, refresh, form.get('scope') ?? undefined);
    }
    if (!grantType) throw new OAuthError(400, 'invalid_request', 'grant_type is required.');
    throw new OAuthError(
      400,
      'unsupported_grant_type',
      `grant_type must be authorization_code or refresh_token, not "${grantType}".`,
    );
  }
}

const AUTHORIZE_PARAMETERS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge_method',
  'code_challenge',
];

function isForm(headers: IncomingHttpHeaders): boolean {
  return /^application\/x-www-form-urlencoded\b/i.test(String(headers['content-type'] ?? ''));
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function oauthJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'Content-Length': String(Buffer.byteLength(payload)),
  });
  res.end(payload);
}

/** An HTML page with a strict CSP; the form may post here and be redirected to `formTarget` only. */
function page(res: ServerResponse, status: number, body: string, formTarget?: string): void {
  const csp = `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${formTarget ? ` ${formTarget}` : ''}; frame-ancestors 'none'; base-uri 'none'`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': csp,
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}
