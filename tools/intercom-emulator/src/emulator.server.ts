import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateDataset, type Dataset, type DatasetOptions } from './dataset';
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

export interface RateLimitOptions {
  perWindow: number;
  windowSeconds: number;
}

export interface EmulatorOptions {
  /** 0 = a random free port */
  port?: number;
  host?: string;
  dataset?: Dataset | DatasetOptions;
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
  const initial: Dataset = isDataset(options.dataset)
    ? structuredClone(options.dataset)
    : generateDataset(options.dataset ?? {});
  let dataset: Dataset = structuredClone(initial);
  const accessToken = options.accessToken ?? DEFAULT_ACCESS_TOKEN;
  const rateLimit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  let faults: Required<Fault>[] = [];
  const clientSecret = options.webhooks?.secret ?? options.clientSecret;
  const onPing = (r: PingResult) => {
    options.webhooks?.onPing?.(r);
    options.onPing?.(r);
  };
  const newSender = (url: string) =>
    new WebhookSender({
      ...options.webhooks,
      url,
      secret: clientSecret!,
      appId: options.webhooks?.appId ?? dataset.appId,
      onPing,
    });
  let webhooks = options.webhooks ? newSender(options.webhooks.url) : null;
  let subscription: WebhookSubscription | null = options.webhooks
    ? { url: options.webhooks.url, topics: [], created_at: Date.now(), updated_at: Date.now() }
    : null;
  const pingTimer =
    options.pingIntervalMs && options.pingIntervalMs > 0
      ? setInterval(() => void webhooks?.ping('interval'), options.pingIntervalMs).unref()
      : null;
  let requests: LoggedRequest[] = [];
  let windowStart = 0;
  let windowCount = 0;

  const rateHeaders = (remaining: number, reset: number) => ({
    'X-RateLimit-Limit': String(rateLimit.perWindow),
    'X-RateLimit-Remaining': String(Math.max(0, remaining)),
    'X-RateLimit-Reset': String(reset),
  });

  /** Fixed window per emulator (= per app); returns the headers and whether the call is allowed. */
  const takeToken = () => {
    const now = Date.now() / 1000;
    if (now >= windowStart + rateLimit.windowSeconds) {
      windowStart = Math.floor(now);
      windowCount = 0;
    }
    windowCount++;
    const reset = windowStart + rateLimit.windowSeconds;
    return {
      allowed: windowCount <= rateLimit.perWindow,
      headers: rateHeaders(rateLimit.perWindow - windowCount, reset),
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

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (chunks.length === 0) return undefined;
    const text = Buffer.concat(chunks).toString('utf8');
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

  const contactById = (id: string) => {
    const c = dataset.contacts.find((x) => x.id === id);
    if (!c) throw new HttpError(404, 'not_found', 'User Not Found');
    return c;
  };

  type Handler = (m: RegExpMatchArray, q: URLSearchParams, body: unknown) => unknown;
  const routes: [string, RegExp, Handler][] = [
    [
      'POST',
      /^\/contacts\/search$/,
      (_m, _q, body) => {
        const p = search(dataset.contacts, body);
        return { type: 'list', data: p.items, total_count: p.totalCount, pages: p.pages };
      },
    ],
    [
      'POST',
      /^\/conversations\/search$/,
      (_m, _q, body) => {
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
      (_m, _q, body) => {
        const p = search(dataset.tickets, body);
        return { type: 'ticket.list', tickets: p.items, total_count: p.totalCount, pages: p.pages };
      },
    ],
    [
      'GET',
      /^\/contacts$/,
      (_m, q) => {
        const p = paginate(dataset.contacts, Number(q.get('per_page') ?? 50), q.get('starting_after'));
        return { type: 'list', data: p.items, total_count: p.totalCount, pages: p.pages };
      },
    ],
    [
      'GET',
      /^\/contacts\/([^/]+)\/subscriptions$/,
      (m) => {
        contactById(decodeURIComponent(m[1]));
        return { type: 'list', data: dataset.contactSubscriptions[decodeURIComponent(m[1])] ?? [] };
      },
    ],
    // GET /contacts/{id}/tags (tag_list): the contact's tags with their names
    [
      'GET',
      /^\/contacts\/([^/]+)\/tags$/,
      (m) => {
        const ids = new Set(contactById(decodeURIComponent(m[1])).tags?.data.map((t) => t.id) ?? []);
        return {
          type: 'list',
          data: dataset.tags.filter((t) => ids.has(t.id)).map(({ type, id, name }) => ({ type, id, name })),
        };
      },
    ],
    ['GET', /^\/contacts\/([^/]+)$/, (m) => contactById(decodeURIComponent(m[1]))],
    // GET /conversations (listConversations): cursor pages of conversation list items
    [
      'GET',
      /^\/conversations$/,
      (_m, q) => {
        const p = paginate(dataset.conversations, Number(q.get('per_page') ?? 20), q.get('starting_after'));
        return {
          type: 'conversation.list',
          conversations: p.items.map(listItem),
          total_count: p.totalCount,
          pages: p.pages,
        };
      },
    ],
    ['GET', /^\/conversations\/([^/]+)$/, (m) => byId(dataset.conversations, m[1])],
    ['GET', /^\/tickets\/([^/]+)$/, (m) => byId(dataset.tickets, m[1])],
    // GET /me (components/schemas/admin_with_app): the token's admin and its workspace, whose id_code is the notifications' app_id
    [
      'GET',
      /^\/me$/,
      () => {
        const a = dataset.admins[0];
        return {
          type: 'admin',
          id: a?.id ?? '0',
          name: a?.name ?? 'Emulator admin',
          email: a?.email ?? 'admin@example.com',
          email_verified: true,
          app: {
            type: 'app',
            id_code: dataset.appId,
            name: 'Emulator workspace',
            created_at: 1767225600,
            secure: false,
            identity_verification: false,
            timezone: 'UTC',
            region: 'US',
          },
          avatar: { type: 'avatar', image_url: null },
          has_inbox_seat: true,
        };
      },
    ],
    ['GET', /^\/admins$/, () => ({ type: 'admin.list', admins: dataset.admins })],
    ['GET', /^\/admins\/([^/]+)$/, (m) => byId(dataset.admins, m[1], 'Admin not found')],
    ['GET', /^\/teams$/, () => ({ type: 'team.list', teams: dataset.teams })],
    ['GET', /^\/teams\/([^/]+)$/, (m) => byId(dataset.teams, m[1], 'Team not found')],
    ['GET', /^\/tags$/, () => ({ type: 'list', data: dataset.tags.map(({ type, id, name }) => ({ type, id, name })) })],
    [
      'GET',
      /^\/tags\/([^/]+)$/,
      (m) => {
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

  const emulator: Omit<IntercomEmulator, 'url' | 'port' | 'dataset' | 'requests' | 'webhooks' | 'subscription'> = {
    accessToken,
    async saveSubscription(change) {
      if (change.url !== undefined && !isHttpUrl(change.url))
        throw new HttpError(400, 'parameter_invalid', 'url must be an http(s) URL');
      if (
        change.topics !== undefined &&
        !(Array.isArray(change.topics) && change.topics.every((t) => typeof t === 'string' && t !== ''))
      ) {
        throw new HttpError(400, 'parameter_invalid', 'topics must be a list of topic names');
      }
      if (clientSecret === undefined)
        throw new HttpError(
          400,
          'parameter_invalid',
          'no client secret configured to sign webhooks (EmulatorOptions.clientSecret / INTERCOM_EMULATOR_WEBHOOK_SECRET)',
        );
      const created = subscription === null;
      const url = change.url ?? subscription?.url;
      if (url === undefined)
        throw new HttpError(400, 'parameter_not_found', 'url is required to create the subscription');
      const now = Date.now();
      subscription = {
        url,
        topics: [...(change.topics ?? subscription?.topics ?? [])],
        created_at: subscription?.created_at ?? now,
        updated_at: now,
      };
      if (webhooks) webhooks.retarget(url);
      else webhooks = newSender(url);
      const ping = await webhooks.ping(created ? 'subscription created' : 'subscription changed');
      return { created, subscription, ping };
    },
    injectFault(f) {
      faults.push({ status: f.status ?? 0, delayMs: f.delayMs ?? 0, count: f.count ?? 1 });
    },
    clearFaults() {
      faults = [];
    },
    reset() {
      dataset = structuredClone(initial);
      faults = [];
      requests = [];
      windowStart = 0;
      windowCount = 0;
      webhooks?.reset();
    },
    upsertContact(contact) {
      upsert(dataset.contacts, contact);
      dataset.contactSubscriptions[contact.id] ??= [];
    },
    updateContact(id, patch, updatedAt) {
      const c = contactById(id);
      Object.assign(c, patch, { updated_at: updatedAt ?? Math.max(c.updated_at + 1, Math.floor(Date.now() / 1000)) });
      return structuredClone(c);
    },
    deleteContact(id) {
      dataset.contacts = dataset.contacts.filter((c) => c.id !== id);
      delete dataset.contactSubscriptions[id];
    },
    upsertConversation(conversation) {
      upsert(dataset.conversations, conversation);
    },
    upsertTicket(ticket) {
      upsert(dataset.tickets, ticket);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (pingTimer) clearInterval(pingTimer);
        webhooks?.close();
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };

  /** Test-control endpoints under /__emulator (no auth, no rate limit, not logged). */
  const control = async (method: string, path: string, body: unknown): Promise<[number, unknown] | null> => {
    if (method === 'POST' && path === '/__emulator/faults') {
      const list = Array.isArray(body) ? body : [body ?? {}];
      for (const f of list) emulator.injectFault(f as Fault);
      return [200, { faults }];
    }
    if (method === 'DELETE' && path === '/__emulator/faults') {
      emulator.clearFaults();
      return [200, { faults }];
    }
    if (method === 'POST' && path === '/__emulator/reset') {
      emulator.reset();
      return [200, { ok: true }];
    }
    if (method === 'GET' && path === '/__emulator/requests') return [200, { requests }];
    if (method === 'GET' && path === '/__emulator/dataset') return [200, dataset];
    // The subscription (Developer Hub > Webhooks): PUT creates or changes it and pings the endpoint
    if (path === '/__emulator/webhooks/subscription') {
      if (method === 'GET')
        return subscription ? [200, subscription] : [404, errorList('not_found', 'no webhook subscription')];
      if (method === 'PUT') {
        const b = (body ?? {}) as { url?: string; topics?: string[] };
        if (typeof b !== 'object' || Array.isArray(b))
          return [400, errorList('parameter_invalid', 'body must be {url?, topics?}')];
        try {
          const saved = await emulator.saveSubscription({ url: b.url, topics: b.topics });
          return [saved.created ? 201 : 200, { subscription: saved.subscription, ping: saved.ping }];
        } catch (e) {
          if (e instanceof HttpError) return [e.status, errorList(e.code, e.message)];
          throw e;
        }
      }
    }
    // Webhook delivery: POST a notification (or a list) to have it delivered as Intercom would,
    // in the background; GET the sender's counts (retried, dropped, paused, not sent while paused).
    if (path === '/__emulator/webhooks' && (method === 'POST' || method === 'GET')) {
      if (!webhooks)
        return [
          400,
          errorList(
            'parameter_invalid',
            'no webhook endpoint configured (EmulatorOptions.webhooks / INTERCOM_EMULATOR_WEBHOOK_URL / PUT /__emulator/webhooks/subscription)',
          ),
        ];
      if (method === 'GET') return [200, webhooks.stats()];
      const list = (Array.isArray(body) ? body : [body]) as IntercomNotification[];
      if (list.some((n) => n?.type !== 'notification_event'))
        return [400, errorList('parameter_invalid', 'body must be a notification_event or a list of them')];
      for (const n of list) void webhooks!.send(n);
      return [202, { accepted: list.length }];
    }
    const m = /^\/__emulator\/(contacts|conversations|tickets)$/.exec(path);
    if (m && method === 'PUT') {
      if (!(body as { id?: unknown } | null)?.id)
        return [400, errorList('parameter_invalid', 'object with id required')];
      if (m[1] === 'contacts') emulator.upsertContact(body as IntercomContact);
      else if (m[1] === 'conversations') emulator.upsertConversation(body as IntercomConversation);
      else emulator.upsertTicket(body as IntercomTicket);
      return [200, body];
    }
    const del = /^\/__emulator\/contacts\/([^/]+)$/.exec(path);
    if (del && method === 'DELETE') {
      emulator.deleteContact(decodeURIComponent(del[1]));
      return [200, { id: del[1], deleted: true }];
    }
    return null;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    let body: unknown;
    try {
      body = await readBody(req);
    } catch (e) {
      return send(res, 400, errorList('parameter_invalid', (e as Error).message));
    }

    if (url.pathname.startsWith('/__emulator/')) {
      const out = await control(method, url.pathname, body);
      return out ? send(res, out[0], out[1]) : send(res, 404, errorList('not_found', 'unknown emulator control'));
    }

    const entry: LoggedRequest = {
      at: Date.now(),
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      intercomVersion: (req.headers['intercom-version'] as string | undefined) ?? null,
      body,
      status: 0,
    };
    requests.push(entry);
    const reply = (status: number, payload: unknown, headers: Record<string, string>) => {
      entry.status = status;
      send(res, status, payload, headers);
    };

    const rate = takeToken();
    const fault = faults[0];
    if (fault) {
      if (--fault.count <= 0) faults.shift();
      if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.status) {
        const [code, message] = FAULT_CODES[fault.status] ?? ['server_error', `injected ${fault.status}`];
        const headers = fault.status === 429 ? { ...rate.headers, 'X-RateLimit-Remaining': '0' } : rate.headers;
        return reply(fault.status, errorList(code, message), headers);
      }
    }

    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${accessToken}`)
      return reply(401, errorList('unauthorized', 'Access Token Invalid'), rate.headers);
    if (!rate.allowed) {
      return reply(
        429,
        errorList(
          'rate_limit_exceeded',
          `Exceeded rate limit of ${rateLimit.perWindow} in ${rateLimit.windowSeconds} seconds`,
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
      const out = route[2](url.pathname.match(route[1])!, url.searchParams, body);
      return reply(200, forVersion(entry.intercomVersion, out), rate.headers);
    } catch (e) {
      if (e instanceof HttpError) return reply(e.status, errorList(e.code, e.message), rate.headers);
      if (e instanceof SearchError) return reply(400, errorList(e.code, e.message), rate.headers);
      return reply(500, errorList('server_error', (e as Error).message), rate.headers);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) send(res, 500, errorList('server_error', String(e)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';

  return {
    ...emulator,
    url: `http://${host}:${port}`,
    port,
    get dataset() {
      return dataset;
    },
    get webhooks() {
      return webhooks;
    },
    get subscription() {
      return subscription;
    },
    get requests() {
      return requests;
    },
  };
}

export { MAX_PER_PAGE };
