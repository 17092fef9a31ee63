import { randomBytes, randomUUID } from 'node:crypto';
import type { IntercomApp, IntercomRegion, Workspace, WorkspaceRegistry } from './workspace';

/**
 * Intercom OAuth on the emulator, as developers.intercom.com documents it ("Setting up OAuth",
 * "Using OAuth" of the API reference):
 * - the user is sent to `https://app.intercom.com/oauth` with `client_id` (required), `state`
 *   ("echoed back to you", recommended against CSRF) and `redirect_uri` ("One of your predefined
 *   callback URLs. If not specified a default is chosen": the first registered); scopes are the
 *   app's, chosen in the Developer Hub, not asked for in the URL;
 * - once the user confirms, Intercom redirects to the redirect URL with `code` and `state`;
 * - the code is exchanged by POSTing `code`, `client_id` and `client_secret` to
 *   `https://api.intercom.io/auth/eagle/token` (the workspace region's API host); "the code will
 *   expire after about 5 minutes"; the answer carries the token (`token` and `access_token`,
 *   `token_type: "Bearer"`), which does not expire and is used as a Bearer token like an access token.
 * Where the guides say nothing (the refusals' exact bodies, a replayed code), the emulator answers
 * in Intercom's `error.list` shape and follows RFC 6749 strictly: a code is single-use, a replayed
 * code is refused and the token it gave is revoked (4.1.2), a code is bound to its client.
 */

export interface OAuthLifetimes {
  /** How long a code can be exchanged (default 5 min, "about 5 minutes"). */
  codeTtlMs: number;
  /** How long the authorize page's form stays valid (default 10 min). */
  requestTtlMs: number;
}

export const DEFAULT_OAUTH_LIFETIMES: OAuthLifetimes = { codeTtlMs: 5 * 60_000, requestTtlMs: 10 * 60_000 };

interface PendingRequest {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string | null;
  readonly expiresAt: number;
}

interface IssuedCode {
  readonly clientId: string;
  readonly workspace: Workspace;
  readonly expiresAt: number;
  used: boolean;
  /** The token the code was exchanged for (revoked if the code is replayed). */
  token?: string;
}

/** One app installed in one workspace through OAuth (tokens never shown). */
export interface Installation {
  readonly clientId: string;
  readonly appId: string;
  readonly at: number;
  revoked: boolean;
}

/** What an OAuth endpoint answers. */
export type OAuthAnswer =
  | {
      readonly kind: 'html';
      readonly status: number;
      readonly html: string;
      /** The origin the page's form may be redirected to (CSP form-action applies to redirects). */
      readonly formTarget?: string;
    }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'json'; readonly status: number; readonly body: unknown };

export class IntercomOAuth {
  private pending = new Map<string, PendingRequest>();
  private codes = new Map<string, IssuedCode>();
  installations: Installation[] = [];

  constructor(
    private readonly workspaces: WorkspaceRegistry,
    readonly lifetimes: OAuthLifetimes,
    private readonly now: () => number = Date.now,
  ) {}

  /** Forgets pending requests, codes, installations and every token OAuth gave. */
  reset(): void {
    this.pending.clear();
    this.codes.clear();
    this.installations = [];
    this.workspaces.revokeOAuthTokens();
  }

  /** Revokes the tokens of matching installations (an uninstall); returns how many tokens. */
  revoke(match: { clientId?: string; appId?: string }): number {
    for (const i of this.installations)
      if ((!match.clientId || i.clientId === match.clientId) && (!match.appId || i.appId === match.appId))
        i.revoked = true;
    return this.workspaces.revokeOAuthTokens(
      (e) => (!match.clientId || e.clientId === match.clientId) && (!match.appId || e.workspace.appId === match.appId),
    );
  }

  /** GET /oauth: checks the request, then the consent page (choose a workspace, Allow / Cancel). */
  authorizePage(query: URLSearchParams): OAuthAnswer {
    const clientId = query.get('client_id');
    if (!clientId) return errorPage(400, 'The client_id parameter is missing.');
    const app = this.workspaces.apps.get(clientId);
    if (!app) return errorPage(400, 'No Intercom app has this client_id.');
    if (app.redirectUris.length === 0) return errorPage(400, 'This app has no redirect URL registered.');
    const asked = query.get('redirect_uri');
    // a redirect URL not registered is refused here, never redirected to
    if (asked !== null && !app.redirectUris.includes(asked))
      return errorPage(400, 'The redirect_uri is not one of the redirect URLs registered for this app.');
    const redirectUri = asked ?? app.redirectUris[0];
    const id = randomBytes(18).toString('base64url');
    this.sweep();
    this.pending.set(id, {
      clientId,
      redirectUri,
      state: query.get('state'),
      expiresAt: this.now() + this.lifetimes.requestTtlMs,
    });
    return {
      kind: 'html',
      status: 200,
      html: consentPage(app, this.workspaces.list(), id),
      formTarget: new URL(redirectUri).origin,
    };
  }

  /**
   * POST /oauth (the consent form): `request`, `workspace`, `decision` allow|deny. A foreign Origin
   * is 403 (cross-site form posts). Allow: 302 to the redirect URL with `code` and `state`.
   */
  decide(form: URLSearchParams, origin: string | undefined, host: string | undefined): OAuthAnswer {
    if (origin !== undefined && origin !== 'null') {
      if (!sameHost(origin, host)) return errorPage(403, 'This form can only be sent from the page that showed it.');
    }
    const id = form.get('request') ?? '';
    const pending = this.pending.get(id);
    this.pending.delete(id);
    if (!pending || pending.expiresAt <= this.now())
      return errorPage(400, 'This authorization request expired or was already answered. Start again from the app.');
    const back = new URL(pending.redirectUri);
    if (form.get('decision') !== 'allow') {
      back.searchParams.set('error', 'access_denied');
      if (pending.state !== null) back.searchParams.set('state', pending.state);
      return { kind: 'redirect', location: back.toString() };
    }
    const workspace = this.workspaces.get(form.get('workspace') ?? '');
    if (!workspace) return errorPage(400, 'Choose a workspace to install the app in.');
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, {
      clientId: pending.clientId,
      workspace,
      expiresAt: this.now() + this.lifetimes.codeTtlMs,
      used: false,
    });
    back.searchParams.set('code', code);
    if (pending.state !== null) back.searchParams.set('state', pending.state);
    return { kind: 'redirect', location: back.toString() };
  }

  /**
   * POST /auth/eagle/token at the region host `region`: `code`, `client_id`, `client_secret`
   * (form-encoded, JSON or query parameters). Refusals: 400 `parameter_not_found` (a missing
   * parameter); 401 `unauthorized` "Unauthorized Client" (unknown client, wrong secret);
   * 401 `unauthorized` "Unauthorized Code" (unknown, expired, used, another client's code, or a
   * code of a workspace hosted in another region).
   */
  exchange(params: URLSearchParams, region: IntercomRegion): OAuthAnswer {
    for (const p of ['code', 'client_id', 'client_secret'])
      if (!params.get(p)) return errorList(400, 'parameter_not_found', `${p} is required`);
    const app = this.workspaces.apps.get(params.get('client_id')!);
    if (!app || !timingSafeEqualString(app.clientSecret, params.get('client_secret')!))
      return errorList(401, 'unauthorized', 'Unauthorized Client');
    const code = this.codes.get(params.get('code')!);
    if (!code || code.clientId !== app.clientId || code.workspace.region !== region)
      return errorList(401, 'unauthorized', 'Unauthorized Code');
    if (code.used) {
      // RFC 6749 4.1.2: a code used twice is refused and what it gave is revoked
      if (code.token) this.workspaces.revokeToken(code.token);
      code.token = undefined;
      return errorList(401, 'unauthorized', 'Unauthorized Code');
    }
    code.used = true;
    if (code.expiresAt <= this.now()) return errorList(401, 'unauthorized', 'Unauthorized Code');
    const token = this.workspaces.issueOAuthToken(code.workspace, app.clientId);
    code.token = token;
    this.installations.push({ clientId: app.clientId, appId: code.workspace.appId, at: this.now(), revoked: false });
    // a workspace with no signing app yet gets its webhooks signed by the app installed
    code.workspace.signingApp ??= app;
    return { kind: 'json', status: 200, body: { token_type: 'Bearer', token, access_token: token } };
  }

  private sweep(): void {
    const t = this.now();
    for (const [id, p] of this.pending) if (p.expiresAt <= t) this.pending.delete(id);
    for (const [c, code] of this.codes) if (code.expiresAt <= t && code.used) this.codes.delete(c);
  }
}

/** Whether the Origin header names the host the request came to. */
function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

function timingSafeEqualString(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function errorList(status: number, code: string, message: string): OAuthAnswer {
  return { kind: 'json', status, body: { type: 'error.list', request_id: randomUUID(), errors: [{ code, message }] } };
}

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}' +
  'h1{font-size:1.3rem}label{display:block;margin:.4rem 0}button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}' +
  '.error{border-left:4px solid #c00;padding:.5rem 1rem;background:#fff3f3}';

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function errorPage(status: number, message: string): OAuthAnswer {
  return {
    kind: 'html',
    status,
    html: page(
      'Intercom authorization failed',
      `<h1>Intercom authorization failed</h1><p class="error" role="alert">${escapeHtml(message)}</p>`,
    ),
  };
}

function consentPage(app: IntercomApp, workspaces: readonly Workspace[], requestId: string): string {
  const options = workspaces
    .map(
      (w, i) =>
        `<label><input type="radio" name="workspace" value="${escapeHtml(w.appId)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(w.name)} (${escapeHtml(w.appId)}, ${w.region})</label>`,
    )
    .join('');
  return page(
    `Install ${app.name}`,
    `<h1>${escapeHtml(app.name)} would like to connect to your Intercom workspace</h1>` +
      `<form method="post" action="/oauth"><input type="hidden" name="request" value="${escapeHtml(requestId)}">` +
      `<fieldset><legend>Workspace</legend>${options}</fieldset>` +
      `<button type="submit" name="decision" value="allow">Authorize access</button>` +
      `<button type="submit" name="decision" value="deny">Cancel</button></form>`,
  );
}
