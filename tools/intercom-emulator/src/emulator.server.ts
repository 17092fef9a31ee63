import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateDataset, type Dataset, type DatasetOptions } from './dataset';
import { DEFAULT_OAUTH_LIFETIMES, IntercomOAuth, type OAuthAnswer, type OAuthLifetimes } from './oauth';
import {
  REGION_API_HOSTS,
  Workspace,
  WorkspaceDefinitionError,
  WorkspaceRegistry,
  type Fault,
  type IntercomApp,
  type IntercomAppOptions,
  type IntercomRegion,
  type LoggedRequest,
  type RateLimitOptions,
  type WebhookSubscription,
  type WorkspaceOptions,
} from './workspace';
import type { IntercomContact, IntercomConversation, IntercomTicket, IntercomTicketV211 } from '@iks/intercom';
import { MAX_PER_PAGE, SearchError, matches, paginate, type SearchQuery } from './search';
import { WebhookSender, type IntercomNotification, type PingResult, type WebhookSenderOptions } from './webhook.sender';

/**
 * An Intercom REST API 2.14 stand-in over node:http.
 * Behaviour follows developers.intercom.com: Bearer auth with 401 `error.list` `unauthorized`
 * ("Access Token Invalid"); rate-limit headers X-RateLimit-Limit / -Remaining / -Reset (unix
 * seconds) on every answer and 429 `rate_limit_exceeded` past the limit
 * (docs/references/rest-api/errors/rate-limiting); search per components/schemas/search_request.
 */

export type { Fault, LoggedRequest, RateLimitOptions, WebhookSubscription };

export interface EmulatorOptions {
  /** 0 = a random free port (the US host's listener) */
  port?: number;
  host?: string;
  /** The default workspace's data (its app_id is the dataset's, `emu1a2b3` unless given). */
  dataset?: Dataset | DatasetOptions;
  /** The default workspace's access token (default `emulator-access-token`). */
  accessToken?: string;
  rateLimit?: RateLimitOptions;
  /**
   * A webhook subscription from the start: where (and how) `POST /__emulator/webhooks` delivers
   * notifications. None: that endpoint answers 400 until a subscription is created through
   * `PUT /__emulator/webhooks/subscription`.
   */
  webhooks?: WebhookSenderOptions;
  /** The app's client secret, signing what a subscription created through the admin API sends (default: webhooks.secret). */
  clientSecret?: string;
  /** While a subscription exists: a ping every this many ms, as Intercom checks an endpoint from time to time (0 or none: no periodic ping). */
  pingIntervalMs?: number;
  /** Called with every ping's result (also webhooks.onPing). */
  onPing?: (result: PingResult) => void;
  /** The default workspace's name and region (default US). */
  defaultWorkspace?: { name?: string; region?: IntercomRegion };
  /** Intercom apps (client id and secret, redirect URLs): OAuth clients, and the signers of the workspaces they serve. */
  apps?: readonly IntercomAppOptions[];
  /** More workspaces, each with its own app_id, data, tokens, signing app and region (also `POST /__emulator/workspaces`). */
  workspaces?: readonly WorkspaceOptions[];
  /** Ports of the EU and AU hosts' listeners, opened once a workspace is in that region (default 0: random). */
  regionPorts?: Partial<Record<Exclude<IntercomRegion, 'US'>, number>>;
  /** Delivery options of the subscriptions of workspaces other than the default (timeouts, retry delay, pause). */
  webhookDefaults?: Omit<WebhookSenderOptions, 'url' | 'secret' | 'appId'>;
  /** OAuth: how long codes (default 5 min) and authorize forms (10 min) live. */
  oauth?: Partial<OAuthLifetimes>;
}

export interface IntercomEmulator {
  readonly url: string;
  readonly port: number;
  readonly accessToken: string;
  /** the live dataset (mutate through the methods below so `updated_at` moves) */
  readonly dataset: Dataset;
  readonly requests: readonly LoggedRequest[];
  /** The webhook sender (options.webhooks, or the subscription created through the admin API), or null. */
  readonly webhooks: WebhookSender | null;
  readonly subscription: WebhookSubscription | null;
  /**
   * Creates the subscription or changes its URL and topics, then pings the endpoint as Intercom
   * does when a subscription is saved; resolves with the ping's result.
   */
  saveSubscription(change: {
    url?: string;
    topics?: readonly string[];
  }): Promise<{ created: boolean; subscription: WebhookSubscription; ping: PingResult }>;
  injectFault(fault: Fault): void;
  clearFaults(): void;
  /** restores the dataset given at start and clears faults, the request log and the rate-limit window */
  reset(): void;
  upsertContact(contact: IntercomContact): void;
  updateContact(id: string, patch: Partial<IntercomContact>, updatedAt?: number): IntercomContact;
  deleteContact(id: string): void;
  upsertConversation(conversation: IntercomConversation): void;
  upsertTicket(ticket: IntercomTicket): void;
  close(): Promise<void>;
  /** The default workspace (the one above: dataset, accessToken, webhooks, subscription). */
  readonly defaultWorkspace: Workspace;
  /** The workspace with this app_id (throws when there is none: a typo should not read an empty dataset). */
  workspace(appId: string): Workspace;
  readonly workspaces: WorkspaceRegistry;
  /** Adds a workspace (opens its region's listener if needed); its tokens are returned in full. */
  addWorkspace(options: WorkspaceOptions): Promise<{ workspace: Workspace; accessTokens: string[] }>;
  /** Adds an Intercom app (OAuth client, webhook signer). */
  addApp(options: IntercomAppOptions): IntercomApp;
  /** The base URL of a region's host (US: `url`); throws when no workspace opened it. */
  regionUrl(region: IntercomRegion): string;
  /** Saves a workspace's subscription (as saveSubscription does for the default one). */
  saveWorkspaceSubscription(
    appId: string,
    change: { url?: string; topics?: readonly string[]; clientId?: string },
  ): Promise<{ created: boolean; subscription: WebhookSubscription; ping: PingResult }>;
  readonly oauth: IntercomOAuth;
}

export const DEFAULT_ACCESS_TOKEN = 'emulator-access-token';
/** Intercom's documented default for private apps: 10,000 calls a minute per app. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perWindow: 10000, windowSeconds: 60 };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function errorList(code: string, message: string) {
  return { type: 'error.list', request_id: randomUUID(), errors: [{ code, message }] };
}

const FAULT_CODES: Record<number, [string, string]> = {
  429: ['rate_limit_exceeded', 'Exceeded rate limit'],
  500: ['server_error', 'Internal server error'],
  502: ['server_error', 'Bad gateway'],
  503: ['service_unavailable', 'Service unavailable'],
  504: ['server_error', 'Gateway timeout'],
};

function isHttpUrl(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}

function isDataset(d: Dataset | DatasetOptions | undefined): d is Dataset {
  return !!d && Array.isArray((d as Dataset).contacts);
}

/** POST /__emulator/workspaces: WorkspaceOptions in snake_case. */
interface WorkspaceBody {
  app_id?: string;
  name?: string;
  region?: IntercomRegion;
  dataset?: DatasetOptions;
  access_tokens?: string[];
  app?: string;
  client_secret?: string;
  rate_limit?: RateLimitOptions;
}

/** POST /__emulator/apps */
interface AppBody {
  client_id?: string;
  client_secret?: string;
  name?: string;
  redirect_uris?: string[];
}

function formOrJson(raw: string, contentType: string | undefined): URLSearchParams {
  if ((contentType ?? '').includes('application/json')) {
    try {
      const o = JSON.parse(raw) as Record<string, unknown>;
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(o ?? {})) if (typeof v === 'string') p.set(k, v);
      return p;
    } catch {
      return new URLSearchParams();
    }
  }
  return new URLSearchParams(raw);
}

/**
 * The answer in the shape of the requested Intercom-Version where it differs in what the pipeline
 * reads: before 2.12 a ticket's `ticket_state` is its category string, with
 * `ticket_state_internal_label` / `_external_label` beside it (the 2.11 description); from 2.12 on
 * an object. Other differences between versions are not emulated.
 */
export function forVersion(version: string | null, body: unknown): unknown {
  if (version === null || !/^2\.(\d|1[01])$/.test(version)) return body;
  const ticket211 = (t: IntercomTicket): IntercomTicket | IntercomTicketV211 => {
    const { ticket_state: state, ...rest } = t;
    if (!state) return t;
    return {
      ...rest,
      ticket_state: state.category,
      ticket_state_internal_label: state.internal_label,
      ticket_state_external_label: state.external_label,
    };
  };
  const b = body as { type?: string; tickets?: IntercomTicket[] };
  if (b?.type === 'ticket') return ticket211(body as IntercomTicket);
  if (b?.type === 'ticket.list' && Array.isArray(b.tickets)) return { ...b, tickets: b.tickets.map(ticket211) };
  return body;
}

/** Conversation search results are `conversation_list_item`s: no conversation_parts (as api.intercom.io). */
function listItem(c: IntercomConversation): IntercomConversation {
  const { conversation_parts: _parts, ...rest } = c;
  return rest;
}

export async function startIntercomEmulator(options: EmulatorOptions = {}): Promise<IntercomEmulator> {
  const rateLimit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  const host = options.host ?? '127.0.0.1';
  const registry = new WorkspaceRegistry(rateLimit);
  for (const a of options.apps ?? []) registry.addApp(a);
  const initialDefault: Dataset = isDataset(options.dataset)
    ? structuredClone(options.dataset)
    : generateDataset(options.dataset ?? {});
  const accessToken = options.accessToken ?? DEFAULT_ACCESS_TOKEN;
  // The default workspace: today's single workspace, its secret the webhooks' or clientSecret
  const defaultSecret = options.webhooks?.secret ?? options.clientSecret;
  const def = registry.add(
    {
      appId: initialDefault.appId,
      name: options.defaultWorkspace?.name,
      region: options.defaultWorkspace?.region,
      dataset: initialDefault,
      accessTokens: [accessToken],
      clientSecret: defaultSecret,
    },
    true,
  ).workspace;
  const oauth = new IntercomOAuth(registry, { ...DEFAULT_OAUTH_LIFETIMES, ...options.oauth });
  let faults: Required<Fault>[] = [];
  let requests: LoggedRequest[] = [];
  const onPing = (r: PingResult) => {
    options.webhooks?.onPing?.(r);
    options.onPing?.(r);
  };
  const newSender = (ws: Workspace, url: string) =>
    new WebhookSender({
      ...(ws.isDefault ? options.webhooks : options.webhookDefaults),
      url,
      secret: ws.clientSecret!,
      appId: ws.isDefault ? (options.webhooks?.appId ?? ws.dataset.appId) : ws.appId,
      onPing,
    });
  if (options.webhooks) {
    def.webhooks = newSender(def, options.webhooks.url);
    def.subscription = { url: options.webhooks.url, topics: [], created_at: Date.now(), updated_at: Date.now() };
  }
  const pingTimer =
    options.pingIntervalMs && options.pingIntervalMs > 0
      ? setInterval(() => {
          for (const ws of registry.list()) void ws.webhooks?.ping('interval');
        }, options.pingIntervalMs).unref()
      : null;

  const rateHeaders = (limit: RateLimitOptions, remaining: number, reset: number) => ({
    'X-RateLimit-Limit': String(limit.perWindow),
    'X-RateLimit-Remaining': String(Math.max(0, remaining)),
    'X-RateLimit-Reset': String(reset),
  });

  /** Fixed window per workspace (= per app per workspace); returns the headers and whether the call is allowed. */
  const takeToken = (ws: Workspace) => {
    const limit = ws.rateLimit;
    const now = Date.now() / 1000;
    if (now >= ws.windowStart + limit.windowSeconds) {
      ws.windowStart = Math.floor(now);
      ws.windowCount = 0;
    }
    ws.windowCount++;
    const reset = ws.windowStart + limit.windowSeconds;
    return {
      allowed: ws.windowCount <= limit.perWindow,
      headers: rateHeaders(limit, limit.perWindow - ws.windowCount, reset),
    };
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const raw = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(raw),
      ...headers,
    });
    res.end(raw);
  };

  const readRaw = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  const parseJson = (text: string): unknown => {
    if (text === '') return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new HttpError(400, 'parameter_invalid', 'body is not JSON');
    }
  };

  const search = <T extends { id: string; updated_at: number }>(all: readonly T[], body: unknown) => {
    const b = (body ?? {}) as {
      query?: SearchQuery;
      pagination?: { per_page?: number; starting_after?: string | null } | null;
    };
    if (!b.query || typeof b.query !== 'object') throw new HttpError(400, 'parameter_not_found', 'query is required');
    const filtered = all.filter((o) => matches(o, b.query!));
    return paginate(filtered, b.pagination?.per_page ?? 20, b.pagination?.starting_after ?? null);
  };

  const byId = <T extends { id: string }>(list: readonly T[], id: string, message = 'Resource Not Found'): T => {
    const found = list.find((x) => x.id === decodeURIComponent(id));
    if (!found) throw new HttpError(404, 'not_found', message);
    return found;
  };

  const contactById = (dataset: Dataset, id: string) => {
    const c = dataset.contacts.find((x) => x.id === id);
    if (!c) throw new HttpError(404, 'not_found', 'User Not Found');
    return c;
  };

  type Handler = (m: RegExpMatchArray, q: URLSearchParams, body: unknown, ws: Workspace) => unknown;
  const routes: [string, RegExp, Handler][] = [
    [
      'POST',
      /^\/contacts\/search$/,
      (_m, _q, body, { dataset }) => {
        const p = search(dataset.contacts, body);
        return { type: 'list', data: p.items, total_count: p.totalCount, pages: p.pages };
      },
    ],
    [
      'POST',
      /^\/conversations\/search$/,
      (_m, _q, body, { dataset }) => {
        const p = search(dataset.conversations, body);
        return {
          type: 'conversation.list',
          conversations: p.items.map(listItem),
          total_count: p.totalCount,
          pages: p.pages,
        };
      },
    ],
    [
      'POST',
      /^\/tickets\/search$/,
      (_m, _q, body, { dataset }) => {
        const p = search(dataset.tickets, body);
        return { type: 'ticket.list', tickets: p.items, total_count: p.totalCount, pages: p.pages };
      },
    ],
    [
      'GET',
      /^\/contacts$/,
      (_m, q, _b, { dataset }) => {
        const p = paginate(dataset.contacts, Number(q.get('per_page') ?? 50), q.get('starting_after'));
        return { type: 'list', data: p.items, total_count: p.totalCount, pages: p.pages };
      },
    ],
    [
      'GET',
      /^\/contacts\/([^/]+)\/subscriptions$/,
      (m, _q, _b, { dataset }) => {
        contactById(dataset, decodeURIComponent(m[1]));
        return { type: 'list', data: dataset.contactSubscriptions[decodeURIComponent(m[1])] ?? [] };
      },
    ],
    // GET /contacts/{id}/tags (tag_list): the contact's tags with their names
    [
      'GET',
      /^\/contacts\/([^/]+)\/tags$/,
      (m, _q, _b, { dataset }) => {
        const ids = new Set(contactById(dataset, decodeURIComponent(m[1])).tags?.data.map((t) => t.id) ?? []);
        return {
          type: 'list',
          data: dataset.tags.filter((t) => ids.has(t.id)).map(({ type, id, name }) => ({ type, id, name })),
        };
      },
    ],
    ['GET', /^\/contacts\/([^/]+)$/, (m, _q, _b, { dataset }) => contactById(dataset, decodeURIComponent(m[1]))],
    // GET /conversations (listConversations): cursor pages of conversation list items
    [
      'GET',
      /^\/conversations$/,
      (_m, q, _b, { dataset }) => {
        const p = paginate(dataset.conversations, Number(q.get('per_page') ?? 20), q.get('starting_after'));
        return {
          type: 'conversation.list',
          conversations: p.items.map(listItem),
          total_count: p.totalCount,
          pages: p.pages,
        };
      },
    ],
    ['GET', /^\/conversations\/([^/]+)$/, (m, _q, _b, { dataset }) => byId(dataset.conversations, m[1])],
    ['GET', /^\/tickets\/([^/]+)$/, (m, _q, _b, { dataset }) => byId(dataset.tickets, m[1])],
    // GET /me (components/schemas/admin_with_app): the token's admin and its workspace, whose id_code is the notifications' app_id
    [
      'GET',
      /^\/me$/,
      (_m, _q, _b, ws) => {
        const a = ws.dataset.admins[0];
        return {
          type: 'admin',
          id: a?.id ?? '0',
          name: a?.name ?? 'Emulator admin',
          email: a?.email ?? 'admin@example.com',
          email_verified: true,
          app: {
            type: 'app',
            id_code: ws.dataset.appId,
            name: ws.name,
            created_at: ws.createdAt,
            secure: false,
            identity_verification: false,
            timezone: 'UTC',
            region: ws.region,
          },
          avatar: { type: 'avatar', image_url: null },
          has_inbox_seat: true,
        };
      },
    ],
    ['GET', /^\/admins$/, (_m, _q, _b, { dataset }) => ({ type: 'admin.list', admins: dataset.admins })],
    ['GET', /^\/admins\/([^/]+)$/, (m, _q, _b, { dataset }) => byId(dataset.admins, m[1], 'Admin not found')],
    ['GET', /^\/teams$/, (_m, _q, _b, { dataset }) => ({ type: 'team.list', teams: dataset.teams })],
    ['GET', /^\/teams\/([^/]+)$/, (m, _q, _b, { dataset }) => byId(dataset.teams, m[1], 'Team not found')],
    [
      'GET',
      /^\/tags$/,
      (_m, _q, _b, { dataset }) => ({
        type: 'list',
        data: dataset.tags.map(({ type, id, name }) => ({ type, id, name })),
      }),
    ],
    [
      'GET',
      /^\/tags\/([^/]+)$/,
      (m, _q, _b, { dataset }) => {
        const { type, id, name } = byId(dataset.tags, m[1]);
        return { type, id, name };
      },
    ],
  ];

  const upsert = <T extends { id: string }>(list: T[], item: T) => {
    const i = list.findIndex((x) => x.id === item.id);
    if (i >= 0) list[i] = structuredClone(item);
    else list.push(structuredClone(item));
  };

  const workspaceOf = (appId: string): Workspace => {
    const ws = registry.get(appId);
    if (!ws) throw new HttpError(404, 'not_found', `no workspace ${appId}`);
    return ws;
  };

  const saveSubscriptionOf = async (
    ws: Workspace,
    change: { url?: string; topics?: readonly string[]; clientId?: string },
  ) => {
    if (change.url !== undefined && !isHttpUrl(change.url))
      throw new HttpError(400, 'parameter_invalid', 'url must be an http(s) URL');
    if (
      change.topics !== undefined &&
      !(Array.isArray(change.topics) && change.topics.every((t) => typeof t === 'string' && t !== ''))
    ) {
      throw new HttpError(400, 'parameter_invalid', 'topics must be a list of topic names');
    }
    if (change.clientId !== undefined) {
      const app = registry.apps.get(change.clientId);
      if (!app) throw new HttpError(400, 'parameter_invalid', `no app with client id ${change.clientId}`);
      ws.signingApp = app;
      ws.webhooks?.close();
      ws.webhooks = null;
    }
    if (ws.clientSecret === undefined)
      throw new HttpError(
        400,
        'parameter_invalid',
        ws.isDefault
          ? 'no client secret configured to sign webhooks (EmulatorOptions.clientSecret / INTERCOM_EMULATOR_WEBHOOK_SECRET)'
          : `no client secret configured to sign workspace ${ws.appId}'s webhooks (its app or client_secret, or client_id here)`,
      );
    const created = ws.subscription === null;
    const url = change.url ?? ws.subscription?.url;
    if (url === undefined)
      throw new HttpError(400, 'parameter_not_found', 'url is required to create the subscription');
    const now = Date.now();
    ws.subscription = {
      url,
      topics: [...(change.topics ?? ws.subscription?.topics ?? [])],
      created_at: ws.subscription?.created_at ?? now,
      updated_at: now,
    };
    if (ws.webhooks) ws.webhooks.retarget(url);
    else ws.webhooks = newSender(ws, url);
    const ping = await ws.webhooks.ping(created ? 'subscription created' : 'subscription changed');
    return { created, subscription: ws.subscription, ping };
  };

  // ------------------------------------------------------------------ listeners (one per region host)
  const servers = new Map<IntercomRegion, { server: Server; url: string; port: number }>();
  const listen = async (region: IntercomRegion, port: number) => {
    const server = createServer((req, res) => {
      handle(req, res, region).catch((e) => {
        if (!res.headersSent) send(res, 500, errorList('server_error', String(e)));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const actual = (server.address() as AddressInfo).port;
    servers.set(region, { server, url: `http://${host}:${actual}`, port: actual });
  };
  const opening = new Map<IntercomRegion, Promise<void>>();
  const ensureRegion = (region: IntercomRegion): Promise<void> => {
    if (servers.has(region)) return Promise.resolve();
    let p = opening.get(region);
    if (!p) {
      p = listen(region, region === 'US' ? (options.port ?? 0) : (options.regionPorts?.[region] ?? 0));
      opening.set(region, p);
    }
    return p;
  };

  const emulator: Omit<
    IntercomEmulator,
    'url' | 'port' | 'dataset' | 'requests' | 'webhooks' | 'subscription' | 'defaultWorkspace'
  > = {
    accessToken,
    workspaces: registry,
    oauth,
    saveSubscription: (change) => saveSubscriptionOf(def, change),
    saveWorkspaceSubscription: (appId, change) => saveSubscriptionOf(workspaceOf(appId), change),
    workspace(appId) {
      const ws = registry.get(appId);
      if (!ws) throw new Error(`the Intercom emulator has no workspace ${appId}`);
      return ws;
    },
    async addWorkspace(o) {
      const added = registry.add(o);
      await ensureRegion(added.workspace.region);
      return added;
    },
    addApp: (o) => registry.addApp(o),
    regionUrl(region) {
      const s = servers.get(region);
      if (!s) throw new Error(`no workspace of the Intercom emulator is in region ${region}`);
      return s.url;
    },
    injectFault(f) {
      faults.push({ status: f.status ?? 0, delayMs: f.delayMs ?? 0, count: f.count ?? 1 });
    },
    clearFaults() {
      faults = [];
    },
    reset() {
      faults = [];
      requests = [];
      for (const ws of registry.list()) ws.reset();
      oauth.reset();
    },
    upsertContact: (contact) => upsertContactOf(def, contact),
    updateContact(id, patch, updatedAt) {
      const c = contactById(def.dataset, id);
      Object.assign(c, patch, { updated_at: updatedAt ?? Math.max(c.updated_at + 1, Math.floor(Date.now() / 1000)) });
      return structuredClone(c);
    },
    deleteContact: (id) => deleteContactOf(def, id),
    upsertConversation(conversation) {
      upsert(def.dataset.conversations, conversation);
    },
    upsertTicket(ticket) {
      upsert(def.dataset.tickets, ticket);
    },
    close: async () => {
      if (pingTimer) clearInterval(pingTimer);
      for (const ws of registry.list()) ws.webhooks?.close();
      await Promise.all(
        [...servers.values()].map(
          ({ server }) =>
            new Promise<void>((resolve, reject) => {
              server.closeAllConnections();
              server.close((err) => (err ? reject(err) : resolve()));
            }),
        ),
      );
    },
  };

  function upsertContactOf(ws: Workspace, contact: IntercomContact) {
    upsert(ws.dataset.contacts, contact);
    ws.dataset.contactSubscriptions[contact.id] ??= [];
  }
  function deleteContactOf(ws: Workspace, id: string) {
    ws.dataset.contacts = ws.dataset.contacts.filter((c) => c.id !== id);
    delete ws.dataset.contactSubscriptions[id];
  }

  const workspaceView = (ws: Workspace) => ({
    app_id: ws.appId,
    name: ws.name,
    region: ws.region,
    api_host: REGION_API_HOSTS[ws.region],
    api_base_url: servers.get(ws.region)?.url ?? null,
    default: ws.isDefault,
    // tokens by their last 4 characters only (shown whole once, on creation)
    access_tokens: registry.tokensOf(ws).map((t) => ({ ends_with: t.token.slice(-4), oauth_client_id: t.clientId })),
    signing_app: ws.signingApp ? { client_id: ws.signingApp.clientId, name: ws.signingApp.name } : null,
    subscription: ws.subscription,
    counts: {
      contacts: ws.dataset.contacts.length,
      conversations: ws.dataset.conversations.length,
      tickets: ws.dataset.tickets.length,
      admins: ws.dataset.admins.length,
      teams: ws.dataset.teams.length,
      requests: ws.requests.length,
    },
  });
  const appView = (a: IntercomApp) => ({ client_id: a.clientId, name: a.name, redirect_uris: a.redirectUris });

  /** Test-control endpoints under /__emulator (no auth, no rate limit, not logged); `ws` for /__emulator/workspaces/{id}/… */
  const control = async (
    method: string,
    path: string,
    body: unknown,
    ws: Workspace = def,
    scoped = false,
  ): Promise<[number, unknown] | null> => {
    if (!scoped) {
      if (path === '/__emulator/workspaces') {
        if (method === 'GET') return [200, { data: registry.list().map(workspaceView) }];
        if (method === 'POST') {
          const b = (body ?? {}) as WorkspaceBody;
          const added = await emulator.addWorkspace({
            appId: b.app_id as string,
            name: b.name,
            region: b.region,
            dataset: b.dataset,
            accessTokens: b.access_tokens,
            app: b.app,
            clientSecret: b.client_secret,
            rateLimit: b.rate_limit,
          });
          return [201, { ...workspaceView(added.workspace), access_tokens: added.accessTokens }];
        }
      }
      if (path === '/__emulator/apps') {
        if (method === 'GET') return [200, { data: [...registry.apps.values()].map(appView) }];
        if (method === 'POST') {
          const b = (body ?? {}) as AppBody;
          const app = registry.addApp({
            clientId: b.client_id,
            clientSecret: b.client_secret,
            name: b.name,
            redirectUris: b.redirect_uris,
          });
          // the client secret is shown once, on creation
          return [201, { ...appView(app), client_secret: app.clientSecret }];
        }
      }
      if (method === 'GET' && path === '/__emulator/oauth/installations')
        return [200, { data: oauth.installations.map((i) => ({ ...i, at: new Date(i.at).toISOString() })) }];
      if (method === 'POST' && path === '/__emulator/oauth/revoke') {
        const b = (body ?? {}) as { client_id?: string; app_id?: string };
        return [200, { revoked: oauth.revoke({ clientId: b.client_id, appId: b.app_id }) }];
      }
      const wsPath = /^\/__emulator\/workspaces\/([^/]+)(\/.*)?$/.exec(path);
      if (wsPath) {
        const target = workspaceOf(decodeURIComponent(wsPath[1]));
        if (!wsPath[2]) return method === 'GET' ? [200, workspaceView(target)] : null;
        return control(method, `/__emulator${wsPath[2]}`, body, target, true);
      }
    }
    if (path === '/__emulator/faults' && (method === 'POST' || method === 'DELETE')) {
      // emulator-wide at /__emulator/faults; one workspace's at /__emulator/workspaces/{id}/faults
      const list = method === 'DELETE' ? [] : Array.isArray(body) ? body : [body ?? {}];
      if (method === 'DELETE') {
        if (scoped) ws.faults = [];
        else emulator.clearFaults();
      }
      for (const f of list as Fault[]) {
        const fault = { status: f.status ?? 0, delayMs: f.delayMs ?? 0, count: f.count ?? 1 };
        if (scoped) ws.faults.push(fault);
        else faults.push(fault);
      }
      return [200, { faults: scoped ? ws.faults : faults }];
    }
    if (method === 'POST' && path === '/__emulator/reset' && !scoped) {
      emulator.reset();
      return [200, { ok: true }];
    }
    if (method === 'GET' && path === '/__emulator/requests')
      return [200, { requests: scoped ? ws.requests : requests }];
    if (method === 'GET' && path === '/__emulator/dataset') return [200, ws.dataset];
    // The subscription (Developer Hub > Webhooks): PUT creates or changes it and pings the endpoint
    if (path === '/__emulator/webhooks/subscription') {
      if (method === 'GET')
        return ws.subscription ? [200, ws.subscription] : [404, errorList('not_found', 'no webhook subscription')];
      if (method === 'PUT') {
        const b = (body ?? {}) as { url?: string; topics?: string[]; client_id?: string };
        if (typeof b !== 'object' || Array.isArray(b))
          return [400, errorList('parameter_invalid', 'body must be {url?, topics?}')];
        const saved = await saveSubscriptionOf(ws, { url: b.url, topics: b.topics, clientId: b.client_id });
        return [saved.created ? 201 : 200, { subscription: saved.subscription, ping: saved.ping }];
      }
    }
    // Webhook delivery: POST a notification (or a list) to have it delivered as Intercom would,
    // in the background; GET the sender's counts (retried, dropped, paused, not sent while paused).
    if (path === '/__emulator/webhooks' && (method === 'POST' || method === 'GET')) {
      if (!ws.webhooks)
        return [
          400,
          errorList(
            'parameter_invalid',
            scoped
              ? `no webhook subscription for workspace ${ws.appId} (PUT /__emulator/workspaces/${ws.appId}/webhooks/subscription)`
              : 'no webhook endpoint configured (EmulatorOptions.webhooks / INTERCOM_EMULATOR_WEBHOOK_URL / PUT /__emulator/webhooks/subscription)',
          ),
        ];
      if (method === 'GET') return [200, ws.webhooks.stats()];
      const list = (Array.isArray(body) ? body : [body]) as IntercomNotification[];
      if (list.some((n) => n?.type !== 'notification_event'))
        return [400, errorList('parameter_invalid', 'body must be a notification_event or a list of them')];
      // a workspace's notifications carry its app_id (the default path sends them as given)
      for (const n of list) void ws.webhooks.send(scoped ? { ...n, app_id: ws.appId } : n);
      return [202, { accepted: list.length }];
    }
    const m = /^\/__emulator\/(contacts|conversations|tickets)$/.exec(path);
    if (m && method === 'PUT') {
      if (!(body as { id?: unknown } | null)?.id)
        return [400, errorList('parameter_invalid', 'object with id required')];
      if (m[1] === 'contacts') upsertContactOf(ws, body as IntercomContact);
      else if (m[1] === 'conversations') upsert(ws.dataset.conversations, body as IntercomConversation);
      else upsert(ws.dataset.tickets, body as IntercomTicket);
      return [200, body];
    }
    const del = /^\/__emulator\/contacts\/([^/]+)$/.exec(path);
    if (del && method === 'DELETE') {
      deleteContactOf(ws, decodeURIComponent(del[1]));
      return [200, { id: del[1], deleted: true }];
    }
    return null;
  };

  const sendOAuth = (res: ServerResponse, out: OAuthAnswer) => {
    if (out.kind === 'json') return send(res, out.status, out.body, { 'Cache-Control': 'no-store' });
    if (out.kind === 'redirect') {
      res.writeHead(302, { Location: out.location, 'Cache-Control': 'no-store' });
      return res.end();
    }
    res.writeHead(out.status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(out.html),
      'Cache-Control': 'no-store',
      // the consent form posts here and is redirected to the app's redirect URL: both allowed
      'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${out.formTarget ? ` ${out.formTarget}` : ''}`,
      'X-Frame-Options': 'DENY',
    });
    res.end(out.html);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, region: IntercomRegion) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    const raw = await readRaw(req);

    // OAuth (app.intercom.com/oauth is served on every listener; the token at each region's host)
    if (url.pathname === '/oauth') {
      if (method === 'GET') return sendOAuth(res, oauth.authorizePage(url.searchParams));
      if (method === 'POST')
        return sendOAuth(
          res,
          oauth.decide(new URLSearchParams(raw), req.headers.origin as string | undefined, req.headers.host),
        );
    }
    if (url.pathname === '/auth/eagle/token' && method === 'POST') {
      const params = new URLSearchParams(url.searchParams);
      for (const [k, v] of formOrJson(raw, req.headers['content-type'])) params.set(k, v);
      return sendOAuth(res, oauth.exchange(params, region));
    }

    let body: unknown;
    try {
      body = parseJson(raw);
    } catch (e) {
      return send(res, 400, errorList('parameter_invalid', (e as Error).message));
    }

    if (url.pathname.startsWith('/__emulator/')) {
      try {
        const out = await control(method, url.pathname, body);
        return out ? send(res, out[0], out[1]) : send(res, 404, errorList('not_found', 'unknown emulator control'));
      } catch (e) {
        if (e instanceof HttpError) return send(res, e.status, errorList(e.code, e.message));
        if (e instanceof WorkspaceDefinitionError) return send(res, 400, errorList('parameter_invalid', e.message));
        throw e;
      }
    }

    const entry: LoggedRequest = {
      at: Date.now(),
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      intercomVersion: (req.headers['intercom-version'] as string | undefined) ?? null,
      body,
      status: 0,
      appId: null,
      region,
    };
    requests.push(entry);
    const reply = (status: number, payload: unknown, headers: Record<string, string>) => {
      entry.status = status;
      send(res, status, payload, headers);
    };

    // The token names the workspace; a workspace's token is valid only at its region's host
    const auth = req.headers.authorization ?? '';
    const bearer = /^Bearer (\S+)$/.exec(auth);
    const held = bearer ? registry.forToken(bearer[1]) : undefined;
    const ws = held && held.workspace.region === region ? held.workspace : undefined;
    if (ws) {
      entry.appId = ws.appId;
      ws.requests.push(entry);
    }
    // unauthenticated calls count in the default workspace's window (as the single window did)
    const rate = takeToken(ws ?? def);
    for (const queue of ws && ws.faults.length > 0 ? [faults, ws.faults] : [faults]) {
      const fault = queue[0];
      if (!fault) continue;
      if (--fault.count <= 0) queue.shift();
      if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.status) {
        const [code, message] = FAULT_CODES[fault.status] ?? ['server_error', `injected ${fault.status}`];
        const headers = fault.status === 429 ? { ...rate.headers, 'X-RateLimit-Remaining': '0' } : rate.headers;
        return reply(fault.status, errorList(code, message), headers);
      }
    }

    if (!ws) return reply(401, errorList('unauthorized', 'Access Token Invalid'), rate.headers);
    if (!rate.allowed) {
      return reply(
        429,
        errorList(
          'rate_limit_exceeded',
          `Exceeded rate limit of ${ws.rateLimit.perWindow} in ${ws.rateLimit.windowSeconds} seconds`,
        ),
        rate.headers,
      );
    }
    if (entry.intercomVersion !== null && !/^(\d+\.\d+|Unstable)$/.test(entry.intercomVersion)) {
      return reply(
        400,
        errorList('intercom_version_invalid', `Requested version ${entry.intercomVersion} is not valid`),
        rate.headers,
      );
    }

    const route = routes.find(([m, re]) => m === method && re.test(url.pathname));
    if (!route) {
      // 404 stays "this object does not exist": a route the emulator does not serve is 501, so a
      // client can tell the two apart (Intercom's error.list shape; the code is the emulator's own)
      const known = routes.some(([, re]) => re.test(url.pathname));
      return reply(
        known ? 405 : 501,
        errorList(
          known ? 'method_not_allowed' : 'not_implemented',
          `${method} ${url.pathname} is not served by the emulator`,
        ),
        rate.headers,
      );
    }
    try {
      const out = route[2](url.pathname.match(route[1])!, url.searchParams, body, ws);
      return reply(200, forVersion(entry.intercomVersion, out), rate.headers);
    } catch (e) {
      if (e instanceof HttpError) return reply(e.status, errorList(e.code, e.message), rate.headers);
      if (e instanceof SearchError) return reply(400, errorList(e.code, e.message), rate.headers);
      return reply(500, errorList('server_error', (e as Error).message), rate.headers);
    }
  };

  await ensureRegion('US');
  for (const w of options.workspaces ?? []) registry.add(w);
  for (const w of registry.list()) await ensureRegion(w.region);
  const us = servers.get('US')!;

  return {
    ...emulator,
    url: us.url,
    port: us.port,
    defaultWorkspace: def,
    get dataset() {
      return def.dataset;
    },
    get webhooks() {
      return def.webhooks;
    },
    get subscription() {
      return def.subscription;
    },
    get requests() {
      return requests;
    },
  };
}

export { MAX_PER_PAGE };
