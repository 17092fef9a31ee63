import { randomBytes, timingSafeEqual } from 'node:crypto';
import { newAccountId } from '../accounts/emulated-account';
import { KLAVIYO_SCOPES } from '../klaviyo-emulator.constants';
import { integrationKey, type MetricIntegration } from '../metric-integration';

export interface OAuthAppOptions {
  /** The integration's name ("Intercom"): shown on the authorize page and as its metrics' integration. */
  readonly name: string;
  /** Exactly the redirect URIs the authorize step accepts: https, or http on a loopback host. */
  readonly redirectUris: readonly string[];
  /** The scopes the app is registered with; an authorize request may ask for these only. */
  readonly scopes: readonly string[];
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Its metrics' `integration.category` (default "Custom"). */
  readonly category?: string;
}

export interface OAuthApp {
  readonly clientId: string;
  readonly name: string;
  readonly redirectUris: ReadonlySet<string>;
  readonly scopes: ReadonlySet<string>;
  readonly integration: MetricIntegration;
  readonly createdAt: string;
}

export class OAuthAppDefinitionError extends Error {}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const CLIENT_ID = /^[A-Za-z0-9_-]{8,128}$/;

/** A registrable redirect URI: absolute, no fragment, https (or http on loopback, for local development). */
export function checkRedirectUri(uri: string): void {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new OAuthAppDefinitionError(`redirect URI "${uri}" is not an absolute URL`);
  }
  if (u.hash) throw new OAuthAppDefinitionError(`redirect URI "${uri}" must not have a fragment`);
  if (u.protocol === 'https:') return;
  if (u.protocol === 'http:' && LOOPBACK.has(u.hostname)) return;
  throw new OAuthAppDefinitionError(
    `redirect URI "${uri}" must use https (http only on 127.0.0.1, localhost or [::1])`,
  );
}

/** The OAuth apps registered with the emulator (Klaviyo: an app is created once, installed in any account). */
export class OAuthApps {
  private readonly apps = new Map<string, { app: OAuthApp; secret: Buffer }>();

  constructor(private readonly now: () => number) {}

  /** Registers an app; answers its client secret (shown once, as Klaviyo does). */
  create(options: OAuthAppOptions): { app: OAuthApp; clientSecret: string } {
    if (typeof options.name !== 'string' || options.name.trim() === '' || options.name.length > 64)
      throw new OAuthAppDefinitionError('an app needs a name of 1 to 64 characters');
    if (!Array.isArray(options.redirectUris) || options.redirectUris.length === 0)
      throw new OAuthAppDefinitionError('an app needs at least one redirect URI');
    for (const uri of options.redirectUris) checkRedirectUri(String(uri));
    if (!Array.isArray(options.scopes) || options.scopes.length === 0)
      throw new OAuthAppDefinitionError('an app needs at least one scope');
    for (const s of options.scopes)
      if (!KLAVIYO_SCOPES.includes(s)) throw new OAuthAppDefinitionError(`unknown scope "${String(s)}"`);
    const clientId = options.clientId ?? randomBytes(18).toString('base64url');
    if (!CLIENT_ID.test(clientId))
      throw new OAuthAppDefinitionError('a client id is 8 to 128 letters, digits, "-" or "_"');
    if (this.apps.has(clientId)) throw new OAuthAppDefinitionError(`client id ${clientId} is taken`);
    const clientSecret = options.clientSecret ?? randomBytes(32).toString('base64url');
    if (clientSecret.length < 16) throw new OAuthAppDefinitionError('a client secret has 16 characters or more');
    const name = options.name.trim();
    const app: OAuthApp = {
      clientId,
      name,
      redirectUris: new Set(options.redirectUris),
      scopes: new Set(options.scopes),
      integration: {
        object: 'integration',
        id: newAccountId(),
        key: integrationKey(name),
        name,
        category: options.category ?? 'Custom',
      },
      createdAt: new Date(this.now()).toISOString(),
    };
    this.apps.set(clientId, { app, secret: Buffer.from(clientSecret) });
    return { app, clientSecret };
  }

  get(clientId: string): OAuthApp | undefined {
    return this.apps.get(clientId)?.app;
  }

  list(): OAuthApp[] {
    return [...this.apps.values()].map((a) => a.app);
  }

  /** The app whose client id and secret these are (constant-time secret comparison). */
  authenticate(clientId: string, clientSecret: string): OAuthApp | undefined {
    const entry = this.apps.get(clientId);
    if (!entry) return undefined;
    const given = Buffer.from(clientSecret);
    return given.length === entry.secret.length && timingSafeEqual(given, entry.secret) ? entry.app : undefined;
  }
}

/** The app as the admin API lists it (never its secret). */
export function appView(app: OAuthApp): Record<string, unknown> {
  return {
    client_id: app.clientId,
    name: app.name,
    redirect_uris: [...app.redirectUris],
    scopes: [...app.scopes],
    integration: app.integration,
    created_at: app.createdAt,
  };
}
