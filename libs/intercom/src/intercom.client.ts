import type { Secret } from '@iks/config';
import { isRetriableStatus, retry, systemClock, type Clock, type RetryInfo } from '@iks/retry';
import { IntercomApiError } from './intercom-api.error';
import { RequestGate } from './request-gate';
import type { IntercomContact, IntercomSubscriptionType } from './resources/contact.types';
import type { IntercomConversation, IntercomConversationListItem } from './resources/conversation.types';
import type { IntercomTicket } from './resources/ticket.types';
import type { IntercomAdmin, IntercomMe, IntercomTag, IntercomTeam } from './resources/workspace.types';

/**
 * Regional hosts (developers.intercom.com, "Regional hosting"): a workspace answers only on
 * the host of its region.
 *   US (default) https://api.intercom.io
 *   EU           https://api.eu.intercom.io
 *   AU           https://api.au.intercom.io
 */
export const INTERCOM_BASE_URLS = {
  us: 'https://api.intercom.io',
  eu: 'https://api.eu.intercom.io',
  au: 'https://api.au.intercom.io',
} as const;

/** Search allows at most 150 per page (components/schemas/starting_after_paging). */
export const MAX_PER_PAGE = 150;

export interface IntercomClientOptions {
  readonly accessToken: Secret;
  readonly baseUrl?: string;
  /** Sent as the Intercom-Version header; default 2.14 (the contract in contracts/intercom). */
  readonly version?: string;
  /** Per attempt. Default 30 s. */
  readonly timeoutMs?: number;
  /** Requests in flight at most. Default 4. */
  readonly maxConcurrency?: number;
  /** Retries of a retriable failure (429, 5xx, network). Default 6. */
  readonly retries?: number;
  /** First backoff ceiling; full jitter, doubling, capped at 30 s. Default 500 ms. */
  readonly retryInitialMs?: number;
  /** Cap for a wait that X-RateLimit-Reset asks for. Default 120 s. */
  readonly maxRateLimitWaitMs?: number;
  readonly onRetry?: (info: RetryInfo & { method: string; path: string }) => void;
  readonly clock?: Clock;
}

/** components/schemas/search_request `query`: a single filter or an AND/OR of filters. */
export type SearchQuery =
  | { readonly field: string; readonly operator: string; readonly value: unknown }
  | { readonly operator: 'AND' | 'OR'; readonly value: readonly SearchQuery[] };

export interface PageOptions {
  readonly perPage?: number;
  readonly startingAfter?: string | null;
  readonly signal?: AbortSignal;
}

/** Any Intercom object read generically (the REST derivation walks the three kinds alike). */
export interface IntercomObject {
  readonly type?: string;
  readonly id: string;
  readonly updated_at?: number;
  readonly [field: string]: unknown;
}

export interface SearchPage<T = IntercomObject> {
  readonly items: T[];
  /** Intercom's `total_count` (all matches, not this page). */
  readonly totalCount: number | undefined;
  /** `pages.next.starting_after`, absent on the last page. */
  readonly next: string | undefined;
  readonly page: number | undefined;
  readonly totalPages: number | undefined;
}

/** What each search answers: conversation_list_item (no parts), ticket, contact. */
export interface SearchItems {
  conversations: IntercomConversationListItem;
  tickets: IntercomTicket;
  contacts: IntercomContact;
}
type Kind = keyof SearchItems;
/** The list property of each search answer: conversation.list, ticket.list, list. */
const LIST_FIELD: Record<Kind, string> = { conversations: 'conversations', tickets: 'tickets', contacts: 'data' };

/** A search answer: the list under LIST_FIELD[kind], `total_count`, and `pages` (cursor pagination). */
type SearchAnswer = Record<string, unknown> & {
  readonly total_count?: unknown;
  readonly pages?: {
    readonly next?: { readonly starting_after?: unknown };
    readonly page?: unknown;
    readonly total_pages?: unknown;
  };
};

export class IntercomClient {
  private readonly baseUrl: string;
  private readonly version: string;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly gate: RequestGate;

  constructor(private readonly options: IntercomClientOptions) {
    this.baseUrl = (options.baseUrl ?? INTERCOM_BASE_URLS.us).replace(/\/+$/, '');
    this.version = options.version ?? '2.14';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.clock = options.clock ?? systemClock;
    this.gate = new RequestGate(options.maxConcurrency ?? 4, this.clock);
  }

  /** POST /conversations/search (answers conversation_list_items: no conversation_parts). */
  searchConversations(query: SearchQuery, opts: PageOptions = {}): Promise<SearchPage<IntercomConversationListItem>> {
    return this.search('conversations', query, opts);
  }

  /** POST /tickets/search */
  searchTickets(query: SearchQuery, opts: PageOptions = {}): Promise<SearchPage<IntercomTicket>> {
    return this.search('tickets', query, opts);
  }

  /** POST /contacts/search */
  searchContacts(query: SearchQuery, opts: PageOptions = {}): Promise<SearchPage<IntercomContact>> {
    return this.search('contacts', query, opts);
  }

  /** Every page of a search, following `pages.next.starting_after` from `opts.startingAfter`. */
  async *pages<K extends Kind>(
    kind: K,
    query: SearchQuery,
    opts: PageOptions = {},
  ): AsyncGenerator<SearchPage<SearchItems[K]>> {
    let cursor = opts.startingAfter ?? null;
    for (;;) {
      const page = await this.search(kind, query, { ...opts, startingAfter: cursor });
      yield page;
      if (!page.next) return;
      cursor = page.next;
    }
  }

  allConversations(
    query: SearchQuery,
    opts: PageOptions = {},
  ): AsyncGenerator<SearchPage<IntercomConversationListItem>> {
    return this.pages('conversations', query, opts);
  }
  allTickets(query: SearchQuery, opts: PageOptions = {}): AsyncGenerator<SearchPage<IntercomTicket>> {
    return this.pages('tickets', query, opts);
  }
  allContacts(query: SearchQuery, opts: PageOptions = {}): AsyncGenerator<SearchPage<IntercomContact>> {
    return this.pages('contacts', query, opts);
  }

  async search<K extends Kind>(
    kind: K,
    query: SearchQuery,
    opts: PageOptions = {},
  ): Promise<SearchPage<SearchItems[K]>> {
    const perPage = opts.perPage ?? MAX_PER_PAGE;
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > MAX_PER_PAGE)
      throw new RangeError(`perPage must be 1..${MAX_PER_PAGE}`);
    const body = {
      query,
      pagination: { per_page: perPage, ...(opts.startingAfter ? { starting_after: opts.startingAfter } : {}) },
    };
    const res = (await this.request('POST', `/${kind}/search`, body, opts.signal)) as SearchAnswer | null;
    const list = res?.[LIST_FIELD[kind]];
    if (!Array.isArray(list))
      throw new IntercomApiError(
        200,
        'unexpected_response',
        `POST /${kind}/search answered without a "${LIST_FIELD[kind]}" list`,
        false,
      );
    const pages = res?.pages ?? {};
    const next = pages.next?.starting_after;
    return {
      items: list as SearchItems[K][],
      totalCount: typeof res?.total_count === 'number' ? res.total_count : undefined,
      next: typeof next === 'string' && next !== '' ? next : undefined,
      page: typeof pages.page === 'number' ? pages.page : undefined,
      totalPages: typeof pages.total_pages === 'number' ? pages.total_pages : undefined,
    };
  }

  /** GET /contacts/{id}; undefined when Intercom answers 404 (deleted or never existed). */
  async getContact(id: string, signal?: AbortSignal): Promise<IntercomContact | undefined> {
    return this.getOrUndefined<IntercomContact>(`/contacts/${encodeURIComponent(id)}`, signal);
  }

  /**
   * GET /conversations/{id}: the conversation with its conversation_parts, at most the 500 most
   * recent (2.14 "Retrieve a conversation", "Hard limit of 500 parts"); undefined on 404.
   */
  async getConversation(id: string, signal?: AbortSignal): Promise<IntercomConversation | undefined> {
    return this.getOrUndefined<IntercomConversation>(`/conversations/${encodeURIComponent(id)}`, signal);
  }

  /** GET /tickets/{id}: the ticket with its ticket_parts; undefined on 404. */
  async getTicket(id: string, signal?: AbortSignal): Promise<IntercomTicket | undefined> {
    return this.getOrUndefined<IntercomTicket>(`/tickets/${encodeURIComponent(id)}`, signal);
  }

  private async getOrUndefined<T>(path: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return (await this.request('GET', path, undefined, signal)) as T;
    } catch (e) {
      if (e instanceof IntercomApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** GET /contacts/{id}/subscriptions: the contact's subscription types (a `list`). */
  async getContactSubscriptions(id: string, signal?: AbortSignal): Promise<IntercomSubscriptionType[]> {
    const res = (await this.request('GET', `/contacts/${encodeURIComponent(id)}/subscriptions`, undefined, signal)) as {
      data?: IntercomSubscriptionType[];
    };
    return res.data ?? [];
  }

  /** GET /admins (admin.list) */
  async listAdmins(signal?: AbortSignal): Promise<IntercomAdmin[]> {
    return ((await this.request('GET', '/admins', undefined, signal)) as { admins?: IntercomAdmin[] }).admins ?? [];
  }

  /** GET /teams (team.list) */
  async listTeams(signal?: AbortSignal): Promise<IntercomTeam[]> {
    return ((await this.request('GET', '/teams', undefined, signal)) as { teams?: IntercomTeam[] }).teams ?? [];
  }

  /** GET /tags (list) */
  async listTags(signal?: AbortSignal): Promise<IntercomTag[]> {
    return ((await this.request('GET', '/tags', undefined, signal)) as { data?: IntercomTag[] }).data ?? [];
  }

  /** GET /me: the admin of the token and its workspace (`app.id_code` is the webhooks' app_id). */
  async me(signal?: AbortSignal): Promise<IntercomMe> {
    return (await this.request('GET', '/me', undefined, signal)) as IntercomMe;
  }

  /** One call with the gate, the retry loop and error typing. */
  async request(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    return retry(() => this.gate.run(() => this.attempt(method, path, body, signal), signal), {
      retries: this.options.retries ?? 6,
      initialMs: this.options.retryInitialMs ?? 500,
      maxMs: 30_000,
      clock: this.clock,
      signal,
      onRetry: (info) => this.options.onRetry?.({ ...info, method, path }),
    });
  }

  private async attempt(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.accessToken.reveal()}`,
          accept: 'application/json',
          'intercom-version': this.version,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      const err = e as Error & { cause?: { code?: string } };
      if (err.name === 'TimeoutError')
        throw new IntercomApiError(0, 'timeout', `${method} ${path}: no answer within ${this.timeoutMs} ms`, true);
      throw new IntercomApiError(0, 'network_error', `${method} ${path}: ${err.cause?.code ?? err.message}`, true);
    }
    this.gate.observe(res.headers);
    const text = await res.text().catch(() => '');
    if (res.ok) {
      try {
        return text === '' ? undefined : JSON.parse(text);
      } catch {
        throw new IntercomApiError(
          res.status,
          'invalid_json',
          `${method} ${path} answered ${res.status} with a body that is not JSON`,
          false,
        );
      }
    }
    let code = `http_${res.status}`;
    let message = res.statusText || 'error';
    let requestId: string | undefined;
    try {
      const parsed = JSON.parse(text) as { request_id?: string; errors?: Array<{ code?: string; message?: string }> };
      requestId = parsed.request_id;
      if (parsed.errors?.[0]?.code) code = parsed.errors[0].code;
      if (parsed.errors?.[0]?.message) message = parsed.errors[0].message;
    } catch {
      /* not an error.list: keep the status text */
    }
    let retryAfterMs: number | undefined;
    if (res.status === 429) {
      // Wait for the window to reset (X-RateLimit-Reset, unix seconds); without it, the backoff.
      const reset = Number(res.headers.get('x-ratelimit-reset'));
      if (Number.isFinite(reset) && reset > 0) {
        const wait = reset * 1000 - this.clock.now();
        if (wait > 0) {
          retryAfterMs = Math.min(wait + 50, this.options.maxRateLimitWaitMs ?? 120_000);
          this.gate.exhaustUntil(reset * 1000);
        }
      }
    }
    throw new IntercomApiError(
      res.status,
      code,
      `${method} ${path} answered ${res.status} ${code}: ${message}`.slice(0, 1000),
      isRetriableStatus(res.status),
      retryAfterMs,
      requestId,
    );
  }
}
