import { randomBytes } from 'node:crypto';
import { verifierMatches } from './pkce';

/** An OAuth error answered by the token and revoke endpoints (RFC 6749 5.2, RFC 7009 2.2.1). */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

/** An authorize request the user has not answered yet (the page's form names it by `id`). */
export interface PendingAuthorization {
  readonly id: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly state: string;
  readonly codeChallenge: string;
  readonly expiresAt: number;
}

interface AuthorizationCode {
  readonly clientId: string;
  readonly accountId: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly codeChallenge: string;
  readonly expiresAt: number;
  /** Set once exchanged: a replay revokes what it gave (RFC 6749 4.1.2). */
  grantId?: string;
}

export interface Grant {
  readonly id: string;
  readonly clientId: string;
  readonly accountId: string;
  scopes: readonly string[];
  refreshToken: string;
  refreshLastUsed: number;
  readonly accessTokens: Set<string>;
  revoked: boolean;
  readonly createdAt: number;
}

interface AccessToken {
  readonly grantId: string;
  readonly expiresAt: number;
  readonly scopes: readonly string[];
  revoked: boolean;
}

/** RFC 6749 5.1: the token endpoint's successful answer. */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly refresh_token: string;
  readonly scope: string;
}

export type BearerCheck =
  | { readonly ok: true; readonly grant: Grant; readonly scopes: readonly string[] }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' | 'revoked' };

export interface OAuthLifetimes {
  readonly accessTokenTtlMs: number;
  readonly codeTtlMs: number;
  readonly refreshIdleTtlMs: number;
}

const token = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

/**
 * Authorization codes, grants (one per app installed in an account by one consent), refresh tokens
 * (rotated on every use: the one used is refused afterwards) and access tokens (expiring).
 */
export class OAuthGrants {
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly grants = new Map<string, Grant>();
  private readonly byRefresh = new Map<string, string>();
  /** Refresh tokens already rotated out, to say so in the error. */
  private readonly rotated = new Map<string, string>();
  private readonly access = new Map<string, AccessToken>();

  constructor(
    private readonly now: () => number,
    readonly lifetimes: OAuthLifetimes,
  ) {}

  holdRequest(request: Omit<PendingAuthorization, 'id' | 'expiresAt'>): PendingAuthorization {
    const pending: PendingAuthorization = {
      ...request,
      id: randomBytes(24).toString('base64url'),
      expiresAt: this.now() + this.lifetimes.codeTtlMs,
    };
    this.pending.set(pending.id, pending);
    return pending;
  }

  /** The pending request, once: a form is answered once. */
  takeRequest(id: string): PendingAuthorization | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p && p.expiresAt > this.now() ? p : undefined;
  }

  issueCode(request: PendingAuthorization, accountId: string): string {
    const code = randomBytes(32).toString('base64url');
    this.codes.set(code, {
      clientId: request.clientId,
      accountId,
      redirectUri: request.redirectUri,
      scopes: request.scopes,
      codeChallenge: request.codeChallenge,
      expiresAt: this.now() + this.lifetimes.codeTtlMs,
    });
    return code;
  }

  /** grant_type=authorization_code: the code once, for its client and redirect_uri, with the matching PKCE verifier. */
  exchangeCode(
    clientId: string,
    code: string,
    redirectUri: string | undefined,
    verifier: string | undefined,
  ): TokenResponse {
    const c = this.codes.get(code);
    if (!c || c.clientId !== clientId)
      throw new OAuthError(400, 'invalid_grant', 'The authorization code is invalid or was issued to another client.');
    if (c.grantId) {
      // RFC 6749 4.1.2: a code used twice is refused, and what it gave SHOULD be revoked.
      this.revokeGrant(c.grantId);
      throw new OAuthError(
        400,
        'invalid_grant',
        'The authorization code was already used; the tokens it gave are revoked.',
      );
    }
    if (c.expiresAt <= this.now()) {
      this.codes.delete(code);
      throw new OAuthError(400, 'invalid_grant', 'The authorization code expired.');
    }
    if (redirectUri !== c.redirectUri)
      throw new OAuthError(400, 'invalid_grant', 'redirect_uri does not match the one of the authorization request.');
    if (!verifier) throw new OAuthError(400, 'invalid_request', 'code_verifier is required (PKCE).');
    if (!verifierMatches(verifier, c.codeChallenge))
      throw new OAuthError(
        400,
        'invalid_grant',
        'Invalid code verifier: its S256 hash does not match the code_challenge.',
      );
    const grant: Grant = {
      id: randomBytes(12).toString('base64url'),
      clientId,
      accountId: c.accountId,
      scopes: c.scopes,
      refreshToken: token('krt_'),
      refreshLastUsed: this.now(),
      accessTokens: new Set(),
      revoked: false,
      createdAt: this.now(),
    };
    c.grantId = grant.id;
    this.grants.set(grant.id, grant);
    this.byRefresh.set(grant.refreshToken, grant.id);
    return this.tokenResponse(grant, grant.scopes);
  }

  /** grant_type=refresh_token: a new access token and a new refresh token; the one used is refused from now on. */
  refresh(clientId: string, refreshToken: string, scope: string | undefined): TokenResponse {
    const grantId = this.byRefresh.get(refreshToken);
    const grant = grantId ? this.grants.get(grantId) : undefined;
    if (!grant || grant.clientId !== clientId) {
      const wasRotated = this.rotated.has(refreshToken);
      throw new OAuthError(
        400,
        'invalid_grant',
        wasRotated
          ? 'The refresh token was already used (rotated); use the newest one.'
          : 'The refresh token is invalid, expired or revoked.',
      );
    }
    if (grant.revoked) throw new OAuthError(400, 'invalid_grant', 'The refresh token is revoked.');
    if (grant.refreshLastUsed + this.lifetimes.refreshIdleTtlMs <= this.now()) {
      this.revokeGrant(grant.id);
      throw new OAuthError(400, 'invalid_grant', 'The refresh token expired (unused for too long).');
    }
    let scopes = grant.scopes;
    if (scope !== undefined) {
      const asked = scope.split(' ').filter(Boolean);
      const extra = asked.filter((s) => !grant.scopes.includes(s));
      if (asked.length === 0 || extra.length > 0)
        throw new OAuthError(
          400,
          'invalid_scope',
          `The scope may only narrow the granted one (${grant.scopes.join(' ')}).`,
        );
      scopes = asked;
    }
    this.byRefresh.delete(refreshToken);
    this.rotated.set(refreshToken, grant.id);
    grant.refreshToken = token('krt_');
    grant.refreshLastUsed = this.now();
    this.byRefresh.set(grant.refreshToken, grant.id);
    this.pruneAccess(grant);
    return this.tokenResponse(grant, scopes);
  }

  /**
   * RFC 7009: revoking a refresh token revokes its grant (every access token from it); revoking an
   * access token revokes that token. An unknown token is answered 200 all the same (2.2); a token of
   * another client is refused.
   */
  revoke(clientId: string, tokenValue: string): void {
    const grantId = this.byRefresh.get(tokenValue) ?? this.rotated.get(tokenValue);
    if (grantId) {
      const grant = this.grants.get(grantId)!;
      if (grant.clientId !== clientId)
        throw new OAuthError(400, 'unauthorized_client', 'The token was issued to another client.');
      if (this.byRefresh.has(tokenValue)) this.revokeGrant(grantId);
      return;
    }
    const at = this.access.get(tokenValue);
    if (!at) return;
    const grant = this.grants.get(at.grantId)!;
    if (grant.clientId !== clientId)
      throw new OAuthError(400, 'unauthorized_client', 'The token was issued to another client.');
    at.revoked = true;
  }

  /** What a Bearer token may do, or why it may not (401). */
  check(tokenValue: string): BearerCheck {
    const at = this.access.get(tokenValue);
    if (!at) return { ok: false, reason: 'unknown' };
    const grant = this.grants.get(at.grantId)!;
    if (at.revoked || grant.revoked) return { ok: false, reason: 'revoked' };
    if (at.expiresAt <= this.now()) return { ok: false, reason: 'expired' };
    return { ok: true, grant, scopes: at.scopes };
  }

  list(): Grant[] {
    return [...this.grants.values()];
  }

  /** Emulator-only: expire (now) the access tokens of the matching grants, as if an hour went by. */
  expireAccessTokens(match: (g: Grant) => boolean): number {
    let n = 0;
    for (const [value, at] of this.access) {
      const g = this.grants.get(at.grantId)!;
      if (!match(g) || at.expiresAt <= this.now()) continue;
      this.access.set(value, { ...at, expiresAt: this.now() });
      n++;
    }
    return n;
  }

  /** Emulator-only (also what an uninstall does): revoke the matching grants. */
  revokeGrants(match: (g: Grant) => boolean): number {
    let n = 0;
    for (const g of this.grants.values()) {
      if (g.revoked || !match(g)) continue;
      this.revokeGrant(g.id);
      n++;
    }
    return n;
  }

  clear(): void {
    this.pending.clear();
    this.codes.clear();
    this.grants.clear();
    this.byRefresh.clear();
    this.rotated.clear();
    this.access.clear();
  }

  private revokeGrant(id: string): void {
    const grant = this.grants.get(id);
    if (!grant) return;
    grant.revoked = true;
    this.byRefresh.delete(grant.refreshToken);
    for (const t of grant.accessTokens) {
      const at = this.access.get(t);
      if (at) at.revoked = true;
    }
  }

  private pruneAccess(grant: Grant): void {
    for (const t of grant.accessTokens) {
      const at = this.access.get(t);
      if (!at || at.expiresAt <= this.now()) {
        this.access.delete(t);
        grant.accessTokens.delete(t);
      }
    }
  }

  private tokenResponse(grant: Grant, scopes: readonly string[]): TokenResponse {
    const value = token('kat_');
    this.access.set(value, {
      grantId: grant.id,
      expiresAt: this.now() + this.lifetimes.accessTokenTtlMs,
      scopes,
      revoked: false,
    });
    grant.accessTokens.add(value);
    return {
      access_token: value,
      token_type: 'Bearer',
      expires_in: Math.round(this.lifetimes.accessTokenTtlMs / 1000),
      refresh_token: grant.refreshToken,
      scope: scopes.join(' '),
    };
  }
}
