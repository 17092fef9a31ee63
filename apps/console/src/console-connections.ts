import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Config, OAuthRegion, Secret } from '@iks/config';
import {
  ConnectionChangeError,
  ConnectionProbe,
  ConnectionStore,
  NoSealingKeyError,
  ProbeError,
  type Connection,
  type ConnectionInput,
  type IntercomRegion,
  type KafkaConnectionDirectory,
} from '@iks/connections';
import {
  createPkce,
  createState,
  OAuthTokenError,
  type IntercomOAuthClient,
  type KlaviyoOAuthClient,
  type KlaviyoTokens,
} from '@iks/oauth';

/** A request the Connections page (or an OAuth callback) refuses: the HTTP status and a message for people, never a secret. */
export class ConnectionRefusal extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ConnectionRefusal';
  }
}

export const OAUTH_COOKIE = 'iks_oauth';
export const KLAVIYO_CALLBACK_PATH = '/oauth/klaviyo/callback';
export const INTERCOM_CALLBACK_PATH = '/oauth/intercom/callback';
const REGIONS: readonly OAuthRegion[] = ['US', 'EU', 'AU'];

interface PendingAuthorization {
  readonly kind: 'klaviyo' | 'intercom';
  /** sha256 of the browser's OAUTH_COOKIE: the callback must come back to the browser that started it. */
  readonly browser: Buffer;
  readonly redirectUri: string;
  readonly verifier: string | null;
  readonly region: OAuthRegion | null;
  readonly expiresAt: number;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Authorizations started from the page and not yet come back: by `state` (unguessable), kept
 * CONSOLE_OAUTH_PENDING_TTL_MS, each usable once (taken on its first callback, answered or not),
 * and only from the browser that started it (its OAUTH_COOKIE). Held in this process only.
 */
export class PendingAuthorizations {
  readonly #byState = new Map<string, PendingAuthorization>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    this.sweep();
    return this.#byState.size;
  }

  add(
    browserNonce: string,
    p: Omit<PendingAuthorization, 'browser' | 'expiresAt'>,
  ): { state: string; expiresAt: number } {
    this.sweep();
    const state = createState();
    const expiresAt = this.now() + this.ttlMs;
    this.#byState.set(state, { ...p, browser: digest(browserNonce), expiresAt });
    return { state, expiresAt };
  }

  take(
    state: string | undefined,
    browserNonce: string | undefined,
    kind: 'klaviyo' | 'intercom',
  ): PendingAuthorization {
    const p = state ? this.#byState.get(state) : undefined;
    if (state) this.#byState.delete(state);
    if (!p || p.kind !== kind)
      throw new ConnectionRefusal(
        `This authorization's state is unknown: it was already used, it expired, or it was not started from this console. Start again from the Connections page.`,
        400,
      );
    if (p.expiresAt <= this.now())
      throw new ConnectionRefusal(
        'This authorization expired before it came back. Start again from the Connections page.',
        400,
      );
    const b = digest(browserNonce ?? '');
    if (!timingSafeEqual(b, p.browser))
      throw new ConnectionRefusal(
        'This authorization was started in another browser session: finish it where it was started, or start again here.',
        400,
      );
    return p;
  }

  private sweep(): void {
    const t = this.now();
    for (const [s, p] of this.#byState) if (p.expiresAt <= t) this.#byState.delete(s);
  }
}

/** A Klaviyo account authorized through OAuth, waiting to be paired with an Intercom side. */
export interface KlaviyoHalf {
  readonly id: string;
  readonly accountId: string;
  readonly organizationName: string | null;
  readonly grant: KlaviyoTokens;
  readonly connectedAt: number;
}

/** An Intercom workspace authorized through OAuth, waiting to be paired with a Klaviyo side. */
export interface IntercomHalf {
  readonly id: string;
  readonly appId: string;
  readonly name: string | null;
  readonly region: IntercomRegion;
  readonly apiBaseUrl: string;
  readonly admin: string | null;
  readonly accessToken: Secret;
  readonly connectedAt: number;
}

export interface AddByCredentials {
  readonly id: string;
  readonly name: string;
  readonly region: string;
  readonly intercomAccessToken: Secret;
  readonly intercomClientSecret: Secret;
  readonly klaviyoPrivateKey: Secret;
}

export interface ConnectionsDeps {
  readonly config: Config;
  readonly directory: KafkaConnectionDirectory;
  readonly store: ConnectionStore;
  /** Private keys and Intercom tokens (ConnectionsModule's). */
  readonly probe: ConnectionProbe;
  /** GET /api/accounts with an OAuth access token (`Authorization: Bearer`). */
  readonly bearerProbe: ConnectionProbe;
  readonly klaviyoOAuth: KlaviyoOAuthClient | null;
  readonly intercomOAuth: IntercomOAuthClient | null;
  readonly now?: () => number;
  /** CONNECTIONS_SEED_EXAMPLES: the example profile and events of a connection just added (not of one connected again). */
  readonly seed?: (connection: Connection) => Promise<void>;
}

/**
 * The Connections page's actions (docs/CONSOLE.md): add a connection from credentials (validated
 * live), pause, resume, remove (an OAuth grant is revoked), the two OAuth flows (Connect Klaviyo:
 * code + PKCE S256 + state; Connect Intercom: code + state), the halves they make, and pairing two
 * halves into a connection. Connections are written through ConnectionStore (sealed); the halves
 * are held in this process until paired or discarded (an unpaired Klaviyo grant is revoked on
 * discard and when the console stops).
 */
export class ConsoleConnections {
  private readonly logger = new Logger(ConsoleConnections.name);
  readonly pending: PendingAuthorizations;
  readonly klaviyoHalves = new Map<string, KlaviyoHalf>();
  readonly intercomHalves = new Map<string, IntercomHalf>();
  private readonly now: () => number;

  constructor(private readonly d: ConnectionsDeps) {
    this.now = d.now ?? Date.now;
    this.pending = new PendingAuthorizations(d.config.consoleOAuth.pendingTtlMs, this.now);
  }

  get directory(): KafkaConnectionDirectory {
    return this.d.directory;
  }

  get canStore(): boolean {
    return this.d.config.connections.secretKeys.length > 0;
  }

  get klaviyoEnabled(): boolean {
    return this.d.klaviyoOAuth !== null;
  }

  get intercomEnabled(): boolean {
    return this.d.intercomOAuth !== null;
  }

  /** The redirect URLs to register with Klaviyo and with Intercom (null without CONSOLE_PUBLIC_URL). */
  redirectUri(kind: 'klaviyo' | 'intercom'): string | null {
    const base = this.d.config.consoleOAuth.publicUrl;
    if (!base) return null;
    return `${base.replace(/\/+$/, '')}${kind === 'klaviyo' ? KLAVIYO_CALLBACK_PATH : INTERCOM_CALLBACK_PATH}`;
  }

  regionUrl(region: OAuthRegion): string {
    return this.d.config.consoleOAuth.intercomRegionApiUrls[region];
  }

  private region(v: string | undefined): OAuthRegion {
    const r = (v ?? 'US').toUpperCase();
    if (!(REGIONS as readonly string[]).includes(r))
      throw new ConnectionRefusal(`region must be one of ${REGIONS.join(', ')}`, 400);
    return r as OAuthRegion;
  }

  // ------------------------------------------------------------------ credentials

  async add(a: AddByCredentials): Promise<Connection> {
    this.requireStore();
    const region = this.region(a.region);
    const intercomUrl = this.regionUrl(region);
    const klaviyoUrl = this.d.config.klaviyo.baseUrl;
    const [ws, account] = await this.probed(() =>
      Promise.all([
        this.d.probe.intercom(a.intercomAccessToken, intercomUrl),
        this.d.probe.klaviyo(a.klaviyoPrivateKey, klaviyoUrl),
      ]),
    );
    return this.put({
      id: a.id,
      name: a.name || ws.name || a.id,
      intercom: {
        appId: ws.appId,
        region,
        apiBaseUrl: intercomUrl,
        auth: 'token',
        clientSecret: a.intercomClientSecret,
        accessToken: a.intercomAccessToken,
      },
      klaviyo: {
        accountId: account.accountId,
        apiBaseUrl: klaviyoUrl,
        auth: 'private_key',
        privateKey: a.klaviyoPrivateKey,
        oauth: null,
      },
      settings: this.defaultSettings(),
    });
  }

  pause(id: string): Promise<Connection> {
    return this.changed(() => this.d.store.pause(id));
  }

  resume(id: string): Promise<Connection> {
    return this.changed(() => this.d.store.resume(id));
  }

  /** Routing stops (records stay replayable); an OAuth grant is then revoked at Klaviyo. */
  async remove(id: string): Promise<{ connection: Connection; revoked: boolean | null; revokeError: string | null }> {
    const connection = await this.changed(() => this.d.store.remove(id));
    const grant = connection.klaviyo.auth === 'oauth' ? connection.klaviyo.oauth : null;
    if (!grant) return { connection, revoked: null, revokeError: null };
    const error = await this.revoke(grant.refreshToken);
    return { connection, revoked: error === null, revokeError: error };
  }

  // ------------------------------------------------------------------ OAuth: start

  startKlaviyo(browserNonce: string): { url: string; expiresAt: number } {
    const client = this.d.klaviyoOAuth;
    if (!client)
      throw new ConnectionRefusal('Connect Klaviyo is off: KLAVIYO_OAUTH_CLIENT_ID and _SECRET are not set', 404);
    this.requireStore();
    const redirectUri = this.redirectUri('klaviyo')!;
    const pkce = createPkce();
    const { state, expiresAt } = this.pending.add(browserNonce, {
      kind: 'klaviyo',
      redirectUri,
      verifier: pkce.verifier,
      region: null,
    });
    return { url: client.authorizeUrl({ redirectUri, state, codeChallenge: pkce.challenge }), expiresAt };
  }

  startIntercom(browserNonce: string, region: string | undefined): { url: string; expiresAt: number } {
    const client = this.d.intercomOAuth;
    if (!client)
      throw new ConnectionRefusal('Connect Intercom is off: INTERCOM_OAUTH_CLIENT_ID and _SECRET are not set', 404);
    this.requireStore();
    const redirectUri = this.redirectUri('intercom')!;
    const { state, expiresAt } = this.pending.add(browserNonce, {
      kind: 'intercom',
      redirectUri,
      verifier: null,
      region: this.region(region),
    });
    return { url: client.authorizeUrl({ state, redirectUri }), expiresAt };
  }

  // ------------------------------------------------------------------ OAuth: callbacks

  async klaviyoCallback(q: CallbackQuery, browserNonce: string | undefined): Promise<KlaviyoHalf> {
    const client = this.d.klaviyoOAuth;
    if (!client) throw new ConnectionRefusal('Connect Klaviyo is off: KLAVIYO_OAUTH_CLIENT_ID is not set', 404);
    const p = this.pending.take(q.state, browserNonce, 'klaviyo');
    if (q.error) throw new ConnectionRefusal(`Klaviyo did not authorize the app: ${describeError(q)}`, 400);
    if (!q.code) throw new ConnectionRefusal('Klaviyo came back without an authorization code', 400);
    let grant: KlaviyoTokens;
    try {
      grant = await client.exchangeCode({ code: q.code, codeVerifier: p.verifier!, redirectUri: p.redirectUri });
    } catch (e) {
      throw tokenRefusal('Klaviyo', e);
    }
    let account;
    try {
      account = await this.d.bearerProbe.klaviyo(grant.accessToken, this.d.config.klaviyo.baseUrl);
    } catch (e) {
      await this.revoke(grant.refreshToken);
      throw new ConnectionRefusal(`The Klaviyo grant was revoked: ${(e as Error).message}`, 502);
    }
    const half: KlaviyoHalf = {
      id: `k-${randomBytes(6).toString('hex')}`,
      accountId: account.accountId,
      organizationName: account.organizationName,
      grant,
      connectedAt: this.now(),
    };
    this.klaviyoHalves.set(half.id, half);
    this.logger.log(`Klaviyo account ${half.accountId} authorized (half ${half.id}), waiting to be paired`);
    return half;
  }

  async intercomCallback(q: CallbackQuery, browserNonce: string | undefined): Promise<IntercomHalf> {
    const client = this.d.intercomOAuth;
    if (!client) throw new ConnectionRefusal('Connect Intercom is off: INTERCOM_OAUTH_CLIENT_ID is not set', 404);
    const p = this.pending.take(q.state, browserNonce, 'intercom');
    if (q.error) throw new ConnectionRefusal(`Intercom did not authorize the app: ${describeError(q)}`, 400);
    if (!q.code) throw new ConnectionRefusal('Intercom came back without an authorization code', 400);
    const region = p.region ?? 'US';
    const apiBaseUrl = this.regionUrl(region);
    let token: Secret;
    try {
      token = await client.exchangeCode(apiBaseUrl, q.code);
    } catch (e) {
      throw tokenRefusal(`Intercom (${region})`, e);
    }
    let me;
    try {
      me = await client.me(apiBaseUrl, token);
    } catch (e) {
      throw new ConnectionRefusal(`Intercom GET /me did not confirm the token: ${(e as Error).message}`, 502);
    }
    const said = regionOf(me.region) ?? region;
    if (said !== region)
      throw new ConnectionRefusal(
        `Intercom says workspace ${me.appId} is hosted in ${said}, not ${region}: connect it again choosing ${said}`,
        409,
      );
    const half: IntercomHalf = {
      id: `i-${randomBytes(6).toString('hex')}`,
      appId: me.appId,
      name: me.name,
      region,
      apiBaseUrl,
      admin: me.adminEmail,
      accessToken: token,
      connectedAt: this.now(),
    };
    this.intercomHalves.set(half.id, half);
    this.logger.log(`Intercom workspace ${half.appId} (${region}) authorized (half ${half.id}), waiting to be paired`);
    return half;
  }

  // ------------------------------------------------------------------ pairing

  async pair(p: { id: string; name: string; intercom: string; klaviyo: string }): Promise<Connection> {
    this.requireStore();
    const i = this.intercomHalves.get(p.intercom);
    const k = this.klaviyoHalves.get(p.klaviyo);
    if (!i) throw new ConnectionRefusal(`no Intercom workspace waiting to be paired as "${p.intercom}"`, 404);
    if (!k) throw new ConnectionRefusal(`no Klaviyo account waiting to be paired as "${p.klaviyo}"`, 404);
    const secret = this.d.config.consoleOAuth.intercom?.clientSecret ?? null;
    const connection = await this.put({
      id: p.id,
      name: p.name || i.name || p.id,
      intercom: {
        appId: i.appId,
        region: i.region,
        apiBaseUrl: i.apiBaseUrl,
        auth: 'oauth',
        // the public app's client secret signs the webhooks of every workspace that installed it
        clientSecret: secret,
        accessToken: i.accessToken,
      },
      klaviyo: {
        accountId: k.accountId,
        apiBaseUrl: this.d.config.klaviyo.baseUrl,
        auth: 'oauth',
        privateKey: null,
        oauth: {
          clientId: this.d.klaviyoOAuth!.clientId,
          accessToken: k.grant.accessToken,
          refreshToken: k.grant.refreshToken,
          expiresAt: k.grant.expiresAt,
          scopes: [...k.grant.scopes],
        },
      },
      settings: this.defaultSettings(),
    });
    this.intercomHalves.delete(i.id);
    this.klaviyoHalves.delete(k.id);
    return connection;
  }

  /** Forgets a half; a Klaviyo half's grant is revoked. */
  async discard(id: string): Promise<{ revoked: boolean | null }> {
    const k = this.klaviyoHalves.get(id);
    if (k) {
      this.klaviyoHalves.delete(id);
      return { revoked: (await this.revoke(k.grant.refreshToken)) === null };
    }
    if (this.intercomHalves.delete(id)) return { revoked: null };
    throw new ConnectionRefusal(`nothing waits to be paired as "${id}"`, 404);
  }

  /** The console stops: unpaired Klaviyo grants are revoked (nothing is left authorized that nobody holds). */
  async stop(): Promise<void> {
    const halves = [...this.klaviyoHalves.values()];
    this.klaviyoHalves.clear();
    this.intercomHalves.clear();
    await Promise.all(halves.map((h) => this.revoke(h.grant.refreshToken)));
  }

  // ------------------------------------------------------------------ helpers

  private defaultSettings(): ConnectionInput['settings'] {
    const t = this.d.config.transformer;
    return { metricNames: {}, defaultPhoneRegion: t.defaultPhoneRegion, deleteOnArchive: t.deleteOnArchive };
  }

  private requireStore(): void {
    if (!this.canStore) throw new ConnectionRefusal(new NoSealingKeyError().message, 409);
  }

  /**
   * Writes a connection. An id already in use by a connection that is not removed is refused,
   * unless it is the same workspace's (connecting again: new credentials, e.g. after
   * needs_reauth); the store refuses a workspace another connection claims.
   */
  private put(input: ConnectionInput): Promise<Connection> {
    const held = this.d.directory.allWithRemoved().find((c) => c.id === input.id && !c.fromEnvironment);
    if (held && held.status !== 'removed' && held.intercom.appId !== input.intercom.appId)
      throw new ConnectionRefusal(
        `connection id "${input.id}" is taken by the connection of workspace ${held.intercom.appId}: choose another id`,
        409,
      );
    const isNew = !held || held.status === 'removed';
    return this.changed(async () => {
      const connection = await this.d.store.put(input);
      if (isNew && this.d.seed)
        await this.d
          .seed(connection)
          .catch((e: Error) =>
            this.logger.warn(
              `connection ${connection.id}: the example data could not be written (${e.message}); the connection is stored`,
            ),
          );
      return connection;
    });
  }

  private async changed<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ConnectionChangeError) throw new ConnectionRefusal(e.message, 409);
      if (e instanceof NoSealingKeyError) throw new ConnectionRefusal(e.message, 409);
      throw e;
    }
  }

  private async probed<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ProbeError) throw new ConnectionRefusal(`Not added: ${e.message}`, 422);
      throw e;
    }
  }

  /** Revokes a Klaviyo grant; the error's message (never a token) or null. */
  private async revoke(refreshToken: Secret): Promise<string | null> {
    try {
      await this.d.klaviyoOAuth?.revoke(refreshToken);
      return null;
    } catch (e) {
      this.logger.warn(`revoking a Klaviyo grant failed: ${(e as Error).message}`);
      return (e as Error).message;
    }
  }
}

export interface CallbackQuery {
  readonly code?: string;
  readonly state?: string;
  readonly error?: string;
  readonly error_description?: string;
}

/** GET /me's `app.region` as a region code ("US", "EU", "Europe", "AU", "Australia"), or null when unknown. */
function regionOf(v: string | null): OAuthRegion | null {
  const r = (v ?? '').trim().toUpperCase();
  if (r === 'EUROPE') return 'EU';
  if (r === 'AUSTRALIA') return 'AU';
  return (REGIONS as readonly string[]).includes(r) ? (r as OAuthRegion) : null;
}

function describeError(q: CallbackQuery): string {
  const text = `${q.error}${q.error_description ? `: ${q.error_description}` : ''}`;
  return text.replace(/[^\x20-\x7e]/g, '').slice(0, 200);
}

function tokenRefusal(vendor: string, e: unknown): ConnectionRefusal {
  if (e instanceof OAuthTokenError) {
    if (e.permanent)
      return new ConnectionRefusal(
        `${vendor} refused the authorization code (${e.message}): it may have been used already, have expired, or not match this authorization. Nothing was stored; start again from the Connections page.`,
        400,
      );
    return new ConnectionRefusal(`${vendor} could not exchange the code now (${e.message}): start again`, 502);
  }
  return new ConnectionRefusal(`${vendor}: ${(e as Error).message}`, 502);
}
