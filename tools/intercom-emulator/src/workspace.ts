import { randomBytes, randomUUID } from 'node:crypto';
import { generateDataset, type Dataset, type DatasetOptions } from './dataset';
import { DEFAULT_WORKSPACE_ID } from './factories';
import type { WebhookSender } from './webhook.sender';

/**
 * The emulator's workspaces (Intercom "apps": each has its `app_id` / `id_code`, its data, its
 * access tokens and its region) and the Intercom apps of the Developer Hub whose client secrets
 * sign webhooks and which OAuth installs (one public app may serve many workspaces; a private
 * app serves one).
 */

/** Intercom's regions and their REST hosts (developers.intercom.com "Regional hosting"). */
export type IntercomRegion = 'US' | 'EU' | 'AU';
export const REGIONS: readonly IntercomRegion[] = ['US', 'EU', 'AU'];
export const REGION_API_HOSTS: Readonly<Record<IntercomRegion, string>> = {
  US: 'api.intercom.io',
  EU: 'api.eu.intercom.io',
  AU: 'api.au.intercom.io',
};

/** An Intercom app of the Developer Hub (Configure > Basic information / Authentication). */
export interface IntercomAppOptions {
  /** Default: a random UUID (Intercom's client ids are UUIDs). */
  readonly clientId?: string;
  /** Default: a random secret. Signs the webhooks of the workspaces this app serves (X-Hub-Signature). */
  readonly clientSecret?: string;
  readonly name?: string;
  /** OAuth redirect URLs, the first the default; https, or http on a loopback host only. */
  readonly redirectUris?: readonly string[];
}

export interface IntercomApp {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly name: string;
  readonly redirectUris: readonly string[];
}

export interface RateLimitOptions {
  perWindow: number;
  windowSeconds: number;
}

/** The next `count` API answers get `status` (429 or 5xx) and/or are delayed by `delayMs`. */
export interface Fault {
  status?: number;
  delayMs?: number;
  count?: number;
}

export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  intercomVersion: string | null;
  body: unknown;
  status: number;
  /** The workspace whose token the request carried (null: no valid token). */
  appId?: string | null;
  /** The region host the request arrived at. */
  region?: IntercomRegion;
}

/** The app's webhook subscription (Developer Hub, Configure > Webhooks): its endpoint URL and topics. */
export interface WebhookSubscription {
  readonly url: string;
  /** The topics asked for (kept, shown; the emulator delivers whatever it is given). */
  readonly topics: readonly string[];
  /** Epoch ms. */
  readonly created_at: number;
  readonly updated_at: number;
}

export interface WorkspaceOptions {
  /** The workspace id (`app_id` of its webhooks, `app.id_code` of GET /me): 4 to 16 lowercase letters or digits. */
  readonly appId: string;
  readonly name?: string;
  /** Default US. EU and AU are served on their own listeners (IntercomEmulator.regionUrl). */
  readonly region?: IntercomRegion;
  /**
   * Its data: a dataset, or options to generate one (default: 50 contacts, 40 conversations, 20
   * tickets, seeded by the workspace's position, with ids no other workspace of the emulator has).
   */
  readonly dataset?: Dataset | DatasetOptions;
  /** Its access tokens (each held by this workspace only). Default: one generated. */
  readonly accessTokens?: readonly string[];
  /** The client id of an app (EmulatorOptions.apps) whose secret signs this workspace's webhooks. */
  readonly app?: string;
  /** Or the client secret of its own private app (an app is made for it). */
  readonly clientSecret?: string;
  /** Its own window (default: the emulator's rateLimit). */
  readonly rateLimit?: RateLimitOptions;
}

export class WorkspaceDefinitionError extends Error {}

const APP_ID = /^[a-z0-9]{4,16}$/;

/** An Intercom-looking access token (`dG9rO…`: base64 of `tok:<uuid>:1:0`). */
export function newAccessToken(): string {
  return Buffer.from(`tok:${randomUUID()}:1:0`).toString('base64');
}

export function newClientSecret(): string {
  return randomBytes(18).toString('hex');
}

/** Redirect URLs must use HTTPS (Setting up OAuth); the emulator also takes http on loopback hosts, for tests. */
export function isAllowedRedirectUri(uri: string): boolean {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  if (u.hash) return false;
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

export function makeApp(options: IntercomAppOptions): IntercomApp {
  const redirectUris = [...(options.redirectUris ?? [])];
  for (const uri of redirectUris) {
    if (typeof uri !== 'string' || !isAllowedRedirectUri(uri))
      throw new WorkspaceDefinitionError(
        `redirect URL ${JSON.stringify(uri)} must be an https URL (http only on 127.0.0.1 / localhost / [::1]), without a fragment`,
      );
  }
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || options.clientId === ''))
    throw new WorkspaceDefinitionError('client_id must be a non-empty string');
  if (options.clientSecret !== undefined && (typeof options.clientSecret !== 'string' || options.clientSecret === ''))
    throw new WorkspaceDefinitionError('client_secret must be a non-empty string');
  return {
    clientId: options.clientId ?? randomUUID(),
    clientSecret: options.clientSecret ?? newClientSecret(),
    name: options.name ?? 'Emulated Intercom app',
    redirectUris,
  };
}

/** One workspace: its data (restored by reset), its tokens, its signing app, subscription, log, window and faults. */
export class Workspace {
  dataset: Dataset;
  /** Every REST request made with this workspace's token. */
  requests: LoggedRequest[] = [];
  webhooks: WebhookSender | null = null;
  subscription: WebhookSubscription | null = null;
  faults: Required<Fault>[] = [];
  windowStart = 0;
  windowCount = 0;
  readonly createdAt = 1767225600;

  constructor(
    readonly appId: string,
    readonly name: string,
    readonly region: IntercomRegion,
    readonly initial: Dataset,
    /** The app whose client secret signs this workspace's webhooks (null: none configured). */
    public signingApp: IntercomApp | null,
    readonly rateLimit: RateLimitOptions,
    readonly isDefault: boolean,
  ) {
    this.dataset = structuredClone(initial);
  }

  get clientSecret(): string | undefined {
    return this.signingApp?.clientSecret;
  }

  reset(): void {
    this.dataset = structuredClone(this.initial);
    this.faults = [];
    this.requests = [];
    this.windowStart = 0;
    this.windowCount = 0;
    this.webhooks?.reset();
  }
}

/** A token held by a workspace: configured (survives reset) or given by OAuth to an app (reset forgets it). */
interface TokenEntry {
  readonly workspace: Workspace;
  readonly clientId: string | null;
}

/** The workspaces by app_id and by token, and the Intercom apps by client id. */
export class WorkspaceRegistry {
  private readonly byAppId = new Map<string, Workspace>();
  private readonly byToken = new Map<string, TokenEntry>();
  readonly apps = new Map<string, IntercomApp>();
  defaultWorkspace!: Workspace;

  constructor(private readonly defaultRateLimit: RateLimitOptions) {}

  addApp(options: IntercomAppOptions): IntercomApp {
    const app = makeApp(options);
    if (this.apps.has(app.clientId)) throw new WorkspaceDefinitionError(`app ${app.clientId} exists`);
    this.apps.set(app.clientId, app);
    return app;
  }

  /** Adds a workspace; refuses a bad or taken app_id, a token another workspace holds, an unknown app. */
  add(options: WorkspaceOptions, isDefault = false): { workspace: Workspace; accessTokens: string[] } {
    const { appId } = options;
    if (typeof appId !== 'string' || !APP_ID.test(appId))
      throw new WorkspaceDefinitionError(`app_id ${JSON.stringify(appId)} must be 4 to 16 lowercase letters or digits`);
    if (this.byAppId.has(appId)) throw new WorkspaceDefinitionError(`workspace ${appId} exists`);
    const region = options.region ?? 'US';
    if (!REGIONS.includes(region)) throw new WorkspaceDefinitionError(`region must be one of ${REGIONS.join(', ')}`);
    const tokens =
      options.accessTokens && options.accessTokens.length > 0 ? [...options.accessTokens] : [newAccessToken()];
    for (const t of tokens) {
      if (typeof t !== 'string' || t.trim() === '' || /\s/.test(t))
        throw new WorkspaceDefinitionError('an access token must be a non-empty string without spaces');
      if (this.byToken.has(t)) throw new WorkspaceDefinitionError('that access token belongs to another workspace');
    }
    if (new Set(tokens).size !== tokens.length) throw new WorkspaceDefinitionError('access tokens repeat');
    if (options.app !== undefined && options.clientSecret !== undefined)
      throw new WorkspaceDefinitionError('give app (a client id) or client_secret (its own private app), not both');
    let signingApp: IntercomApp | null = null;
    if (options.app !== undefined) {
      signingApp = this.apps.get(options.app) ?? null;
      if (!signingApp) throw new WorkspaceDefinitionError(`no app with client id ${options.app}`);
    } else if (options.clientSecret !== undefined) {
      signingApp = this.addApp({ clientSecret: options.clientSecret, name: `${options.name ?? appId} (private app)` });
    }
    const dataset = isDataset(options.dataset)
      ? structuredClone({ ...options.dataset, appId })
      : generateDataset({
          seed: this.byAppId.size + 1,
          ...options.dataset,
          appId,
          // ids no other workspace has: the default workspace keeps today's (0)
          idBase: options.dataset?.idBase ?? (isDefault || appId === DEFAULT_WORKSPACE_ID ? 0 : this.freeIdBase()),
        });
    const workspace = new Workspace(
      appId,
      options.name ?? (isDefault ? 'Emulator workspace' : `Workspace ${appId}`),
      region,
      dataset,
      signingApp,
      options.rateLimit ?? this.defaultRateLimit,
      isDefault,
    );
    this.byAppId.set(appId, workspace);
    for (const t of tokens) this.byToken.set(t, { workspace, clientId: null });
    if (isDefault) this.defaultWorkspace = workspace;
    return { workspace, accessTokens: tokens };
  }

  get(appId: string): Workspace | undefined {
    return this.byAppId.get(appId);
  }

  list(): Workspace[] {
    return [...this.byAppId.values()];
  }

  /** The workspace a token belongs to, if any. */
  forToken(token: string): TokenEntry | undefined {
    return this.byToken.get(token);
  }

  /** The workspace's tokens: configured, and those OAuth gave to an app. */
  tokensOf(workspace: Workspace): { token: string; clientId: string | null }[] {
    const out: { token: string; clientId: string | null }[] = [];
    for (const [token, e] of this.byToken) if (e.workspace === workspace) out.push({ token, clientId: e.clientId });
    return out;
  }

  /** A token OAuth gives `clientId` for the workspace (Intercom's do not expire). */
  issueOAuthToken(workspace: Workspace, clientId: string): string {
    const token = newAccessToken();
    this.byToken.set(token, { workspace, clientId });
    return token;
  }

  /** Forgets OAuth tokens matching (an uninstall); every one on reset. Returns how many. */
  revokeOAuthTokens(match: (e: TokenEntry, token: string) => boolean = () => true): number {
    let n = 0;
    for (const [token, e] of this.byToken) {
      if (e.clientId !== null && match(e, token)) {
        this.byToken.delete(token);
        n++;
      }
    }
    return n;
  }

  revokeToken(token: string): void {
    this.byToken.delete(token);
  }

  /** A multiple of 100,000 above every id base in use (contacts of one workspace: at most 10,000). */
  private freeIdBase(): number {
    return 100_000 * this.byAppId.size;
  }
}

function isDataset(d: Dataset | DatasetOptions | undefined): d is Dataset {
  return !!d && Array.isArray((d as Dataset).contacts);
}
