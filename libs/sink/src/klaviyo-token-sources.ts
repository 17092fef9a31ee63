/**
 * The OAuth grants of the sink's Klaviyo connections (issue #23, docs/CONNECTIONS.md "OAuth
 * grants in the sink"): one KlaviyoTokenSource per OAuth connection, keyed by connection id,
 * replaced when the directory brings another grant (a new authorization, another replica's
 * rotation). Every Klaviyo request of the connection takes its Bearer from it (refreshed before
 * it expires) through `fetchFor`, which refreshes once on a 401 and sends the request again.
 *
 * A rotated grant is written through the GrantWriter (ConnectionStore: sealed, the connection's
 * next revision), so a restart and the other replicas use it. A refresh refused for good first
 * adopts a newer grant from the directory (another replica rotated it a moment ago: its record
 * may still be on the way, so it waits up to `adoptWaitMs`); only then is the connection
 * needs_reauth (written through the GrantWriter). Its requests then answer a local 401
 * `needs_reauth` without reaching Klaviyo: the lane's circuit opens and its records are parked,
 * never dead-lettered, until a new grant is put with status active.
 */
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Connection, ConnectionDirectory, KlaviyoOAuthGrant } from '@iks/connections';
import {
  KlaviyoTokenSource,
  NeedsReauthorizationError,
  OAuthTokenError,
  type KlaviyoOAuthClient,
  type KlaviyoTokens,
} from '@iks/oauth';

/** Where rotated grants and needs_reauth are written (ConnectionStore in the sink). */
export interface GrantWriter {
  /** The connection's rotated grant, its next revision (sealed). */
  rotated(connection: Connection, grant: KlaviyoOAuthGrant): Promise<void>;
  /** The connection's grant cannot be refreshed for good. */
  needsReauth(connection: Connection): Promise<void>;
}

export interface KlaviyoTokenSourcesOptions {
  readonly directory: ConnectionDirectory;
  /** The Klaviyo OAuth app's client, or null when KLAVIYO_OAUTH_CLIENT_ID/SECRET are not set. */
  readonly client: Pick<KlaviyoOAuthClient, 'refresh' | 'clientId'> | null;
  /** Null: the grants are kept in memory only (a directory not backed by the connections topic). */
  readonly writer: GrantWriter | null;
  readonly refreshBeforeMs: number;
  /** How long a refused refresh waits for a newer grant in the directory. */
  readonly adoptWaitMs: number;
  readonly pollMs?: number;
  readonly now?: () => number;
}

/** The JSON:API error a request of a needs_reauth connection answers without reaching Klaviyo. */
export const NEEDS_REAUTH_CODE = 'needs_reauth';

/** The configuration a sink with OAuth connections needs: the first variable missing, or null. */
export function missingOAuthVariable(o: {
  readonly clientId: string | null;
  readonly clientSecret: unknown;
}): string | null {
  if (!o.clientId) return 'KLAVIYO_OAUTH_CLIENT_ID';
  if (!o.clientSecret) return 'KLAVIYO_OAUTH_CLIENT_SECRET';
  return null;
}

export function usesOAuth(c: Connection): c is Connection & { klaviyo: { oauth: KlaviyoOAuthGrant } } {
  return c.klaviyo.auth === 'oauth' && c.klaviyo.oauth !== null && c.status !== 'removed';
}

const tokensOf = (g: KlaviyoOAuthGrant): KlaviyoTokens => ({
  accessToken: g.accessToken,
  refreshToken: g.refreshToken,
  expiresAt: g.expiresAt,
  scopes: g.scopes,
});

const sameGrant = (a: KlaviyoTokens, b: KlaviyoOAuthGrant) =>
  a.refreshToken.reveal() === b.refreshToken.reveal() && a.accessToken.reveal() === b.accessToken.reveal();

function withAuthorization(init: RequestInit | undefined, authorization: string): RequestInit {
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
  headers.authorization = authorization;
  return { ...init, headers };
}

function needsReauthResponse(connectionId: string): Response {
  const detail = `connection "${connectionId}" needs its Klaviyo account connected again (its OAuth grant cannot be refreshed)`;
  return new Response(
    JSON.stringify({
      errors: [{ status: 401, code: NEEDS_REAUTH_CODE, title: 'Needs re-authorization.', detail }],
    }),
    { status: 401, headers: { 'content-type': 'application/vnd.api+json' } },
  );
}

/** A client standing in when KLAVIYO_OAUTH_CLIENT_ID/SECRET are missing: a refresh is a (retriable) failure naming the variable. */
function missingClient(variable: string): Pick<KlaviyoOAuthClient, 'refresh' | 'clientId'> {
  return {
    clientId: '',
    refresh: () =>
      Promise.reject(
        new OAuthTokenError(`${variable} is not set: the sink cannot refresh Klaviyo OAuth grants`, 0, null, false),
      ),
  };
}

export class KlaviyoTokenSources implements OnApplicationShutdown {
  private readonly logger = new Logger(KlaviyoTokenSources.name);
  private readonly sources = new Map<string, KlaviyoTokenSource>();
  private readonly unsubscribe: () => void;
  /** Connections this replica declared needs_reauth (written, or being written). */
  private readonly declared = new Set<string>();
  private stopped = false;
  /** The refresh token of a rotated grant being written, by connection (read back: not another grant). */
  private readonly writing = new Map<string, string>();
  /** Refreshes done by this replica, by connection (tests, metrics). */
  readonly refreshes = new Map<string, number>();
  /** Grants adopted from the directory after a refused refresh, by connection. */
  readonly adopted = new Map<string, number>();

  constructor(private readonly o: KlaviyoTokenSourcesOptions) {
    this.unsubscribe = o.directory.onChange((current, previous) => this.changed(current, previous));
  }

  /** The token source of an OAuth connection (made on first use), else undefined. */
  source(connectionId: string): KlaviyoTokenSource | undefined {
    const c = this.o.directory.get(connectionId);
    if (!c || !usesOAuth(c)) return undefined;
    let s = this.sources.get(c.id);
    if (!s) {
      s = this.make(c);
      this.sources.set(c.id, s);
    }
    return s;
  }

  /** Whether the connection's grant is known here to need the user (refused for good, nothing newer). */
  needsReauthorization(connectionId: string): boolean {
    return this.sources.get(connectionId)?.needsReauthorization ?? false;
  }

  /**
   * The connection's current `Authorization` without refreshing (what KlaviyoHttpClient redacts):
   * `fetchFor` sets the one each request really goes with.
   */
  currentAuthorization(connectionId: string): string | null {
    const s = this.source(connectionId);
    return s ? `Bearer ${s.tokens.accessToken.reveal()}` : null;
  }

  /**
   * The fetch of a connection's KlaviyoHttpClient: a request of an OAuth connection goes with the
   * Bearer of its token source (refreshed before expiry); a 401 refreshes once (unless another
   * request did already) and the request goes again, so an access token expiring early reaches
   * no delivery as a failure. A connection needing re-authorization answers 401 needs_reauth here.
   */
  fetchFor(connectionId: string, base: typeof fetch = globalThis.fetch.bind(globalThis)): typeof fetch {
    return async (input, init) => {
      const source = this.source(connectionId);
      if (!source) return base(input, init);
      let sent: string;
      try {
        sent = await source.authorization();
      } catch (e) {
        if (e instanceof NeedsReauthorizationError) return needsReauthResponse(connectionId);
        throw e; // a transient refresh failure with an expired token: retried as a network error
      }
      const res = await base(input, withAuthorization(init, sent));
      if (res.status !== 401) return res;
      await res.arrayBuffer().catch(() => undefined);
      let again: string;
      try {
        await source.unauthorized(sent);
        again = await source.authorization();
      } catch (e) {
        if (e instanceof NeedsReauthorizationError) return needsReauthResponse(connectionId);
        throw e;
      }
      return base(input, withAuthorization(init, again));
    };
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
  }

  onApplicationShutdown(): void {
    this.stop();
  }

  private make(c: Connection & { klaviyo: { oauth: KlaviyoOAuthGrant } }): KlaviyoTokenSource {
    const client = this.o.client ?? missingClient('KLAVIYO_OAUTH_CLIENT_ID and KLAVIYO_OAUTH_CLIENT_SECRET');
    if (this.o.client && c.klaviyo.oauth.clientId && c.klaviyo.oauth.clientId !== this.o.client.clientId)
      this.logger.warn(
        `connection ${c.id}: its OAuth grant was given to client ${c.klaviyo.oauth.clientId}, not KLAVIYO_OAUTH_CLIENT_ID; its refresh will be refused`,
      );
    if (c.status === 'needs_reauth') this.declared.add(c.id);
    const source = new KlaviyoTokenSource(tokensOf(c.klaviyo.oauth), client as KlaviyoOAuthClient, {
      connectionId: c.id,
      refreshBeforeMs: this.o.refreshBeforeMs,
      now: this.o.now,
      onRotated: (tokens) => this.rotated(c.id, tokens),
      adopt: (refused) => this.adopt(c.id, refused),
      onNeedsReauthorization: (e) => void this.declare(c.id, e),
    });
    return source;
  }

  /** The directory changed: a grant this replica does not hold yet replaces the source's. */
  private changed(current: Connection, previous: Connection | undefined): void {
    const source = this.sources.get(current.id);
    if (current.status === 'removed' || !usesOAuth(current)) {
      this.sources.delete(current.id);
      return;
    }
    if (current.status === 'active') this.declared.delete(current.id);
    if (!source || this.writing.get(current.id) === current.klaviyo.oauth.refreshToken.reveal()) return;
    const reconnected = current.status === 'active' && previous !== undefined && previous.status !== 'active';
    if (!sameGrant(source.tokens, current.klaviyo.oauth) || (reconnected && source.needsReauthorization)) {
      // our own rotation read back is the same grant: nothing to do
      source.replace(tokensOf(current.klaviyo.oauth));
      this.logger.log(
        `connection ${current.id}: OAuth grant of revision ${current.revision} taken from the connections topic`,
      );
    }
  }

  private async rotated(id: string, tokens: KlaviyoTokens): Promise<void> {
    this.refreshes.set(id, (this.refreshes.get(id) ?? 0) + 1);
    const c = this.o.directory.get(id);
    if (!c || !usesOAuth(c) || !this.o.writer || c.fromEnvironment) return;
    const grant: KlaviyoOAuthGrant = { clientId: c.klaviyo.oauth.clientId, ...tokens };
    // stored before it is used: the refresh token just used is refused from now on
    this.writing.set(id, tokens.refreshToken.reveal());
    try {
      await this.persist(id, c, grant);
    } finally {
      this.writing.delete(id);
    }
  }

  private async persist(id: string, c: Connection, grant: KlaviyoOAuthGrant): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.writer!.rotated(this.o.directory.get(id) ?? c, grant);
        return;
      } catch (e) {
        if (attempt >= 3 || this.stopped) {
          // kept in memory: used here, written with the next rotation
          this.logger.error(
            `connection ${id}: the rotated OAuth grant could not be stored (${(e as Error).message}); it is used by this replica only until the next refresh`,
          );
          return;
        }
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  /** A refresh was refused: the directory's grant when it is another (newer) one, waited for up to adoptWaitMs. */
  private async adopt(id: string, refused: KlaviyoTokens): Promise<KlaviyoTokens | null> {
    const deadline = Date.now() + this.o.adoptWaitMs; // a wait of wall-clock time
    const poll = this.o.pollMs ?? 100;
    for (;;) {
      const c = this.o.directory.get(id);
      if (!c || !usesOAuth(c)) return null;
      if (!sameGrant(refused, c.klaviyo.oauth)) {
        this.adopted.set(id, (this.adopted.get(id) ?? 0) + 1);
        this.logger.log(
          `connection ${id}: its refresh token was rotated by another replica; the grant of revision ${c.revision} is used`,
        );
        return tokensOf(c.klaviyo.oauth);
      }
      // another replica already found it revoked: no newer grant is coming
      if (c.status === 'needs_reauth' || this.stopped || Date.now() >= deadline) return null;
      await new Promise((r) => setTimeout(r, poll));
    }
  }

  private async declare(id: string, e: OAuthTokenError): Promise<void> {
    this.logger.error(
      `connection ${id}: its Klaviyo OAuth grant cannot be refreshed (${e.message}): needs_reauth; its records wait until the account is connected again`,
    );
    const c = this.o.directory.get(id);
    if (!c || !this.o.writer || c.fromEnvironment || c.status !== 'active' || this.declared.has(id)) return;
    this.declared.add(id);
    try {
      await this.o.writer.needsReauth(c);
    } catch (err) {
      this.declared.delete(id);
      this.logger.error(`connection ${id}: needs_reauth could not be written: ${(err as Error).message}`);
    }
  }
}
