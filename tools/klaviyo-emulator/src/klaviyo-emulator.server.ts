import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { klaviyoContract, type OpenApiValidator } from '@iks/contracts';
import { FixedWindowRateLimiter } from './fixed-window-rate-limiter';
import {
  KLAVIYO_RATE_LIMITS,
  MAX_EVENTS_PER_BULK_REQUEST,
  MAX_EVENT_PROPERTIES,
  MAX_PAYLOAD_BYTES,
  MAX_PROFILES_PER_BULK_IMPORT,
  type KlaviyoOperation,
  type RateLimit,
} from './klaviyo-emulator.constants';
import { KlaviyoEmulatorFaults, type FaultRequest } from './klaviyo-emulator.faults';
import {
  KlaviyoEmulatorStore,
  newKlaviyoId,
  type EventInput,
  type ProfileIdentifiers,
  type ProfileInput,
  type StoredProfile,
} from './klaviyo-emulator.store';
import { contractViolation, invalidInput, klaviyoError, KlaviyoHttpError } from './klaviyo-error.util';

export interface KlaviyoEmulatorOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Enforce Klaviyo's per-account burst/steady limits (default true). Off for benchmarks. */
  readonly limits?: boolean;
  /** Per-operation overrides of the documented limits. */
  readonly limitOverrides?: Partial<Record<KlaviyoOperation, Partial<RateLimit>>>;
  /**
   * Apply bulk jobs after a delay (as Klaviyo's asynchronous jobs do) instead of before answering.
   * `true` means 50 ms; use `emulator.drain()` to wait for pending jobs.
   */
  readonly asyncJobs?: boolean | { readonly delayMs: number };
  /** Accept only these API keys (default: any non-empty key). */
  readonly apiKeys?: readonly string[];
  /** Clock for the rate-limit windows and timestamps (default Date.now); lets tests step time. */
  readonly now?: () => number;
  /** Keep each stored event in memory (default true). */
  readonly retainEvents?: boolean;
}

interface Route {
  readonly op: KlaviyoOperation;
  readonly method: 'GET' | 'POST';
  /** The operation's path in contracts/klaviyo/<op>.json. */
  readonly contractPath: string;
  readonly jobId?: string;
}

interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly events?: number;
}

interface BulkJob {
  readonly id: string;
  status: 'queued' | 'processing' | 'complete' | 'cancelled';
  readonly created_at: string;
  readonly total_count: number;
  completed_count: number;
  failed_count: number;
  started_at: string | null;
  completed_at: string | null;
  readonly expires_at: string;
  readonly errors: { id: string; code: string; title: string; detail: string; source: { pointer: string }; original_payload: unknown }[];
  readonly profileIds: string[];
}

const OPERATIONS: readonly KlaviyoOperation[] = Object.keys(KLAVIYO_RATE_LIMITS) as KlaviyoOperation[];
const AUTH = /^Klaviyo-API-Key\s+(\S+)\s*$/;
/** The revision header's documented format: "YYYY-MM-DD[.suffix]". */
const REVISION = /^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9_-]+)?$/;
const YEAR_MS = 365 * 24 * 3600 * 1000;
const MIN_EVENT_TIME = Date.UTC(1990, 0, 1);
const BULK_EVENTS_POINTER = '/data/attributes/events-bulk-create/data';

function matchRoute(method: string, path: string): Route | 'method' | undefined {
  const post = method === 'POST';
  const get = method === 'GET';
  switch (path) {
    case '/api/event-bulk-create-jobs':
      return post ? { op: 'bulk_create_events', method: 'POST', contractPath: path } : 'method';
    case '/api/events':
      return post ? { op: 'create_event', method: 'POST', contractPath: path } : 'method';
    case '/api/profile-import':
      return post ? { op: 'create_or_update_profile', method: 'POST', contractPath: path } : 'method';
    case '/api/profile-bulk-import-jobs':
      return post ? { op: 'bulk_import_profiles', method: 'POST', contractPath: path } : 'method';
    case '/api/data-privacy-deletion-jobs':
      return post ? { op: 'request_profile_deletion', method: 'POST', contractPath: path } : 'method';
  }
  const job = /^\/api\/profile-bulk-import-jobs\/([^/]+)(\/import-errors)?$/.exec(path);
  if (job) {
    if (!get) return 'method';
    const jobId = decodeURIComponent(job[1]);
    return job[2]
      ? { op: 'get_errors_for_bulk_import_profiles_job', method: 'GET', contractPath: '/api/profile-bulk-import-jobs/{id}/import-errors', jobId }
      : { op: 'get_bulk_import_profiles_job', method: 'GET', contractPath: '/api/profile-bulk-import-jobs/{job_id}', jobId };
  }
  return undefined;
}

/**
 * An in-process stand-in for the Klaviyo API (revision 2026-07-15) serving the operations in
 * contracts/klaviyo/, with Klaviyo's validation, auth, revision, rate-limit and dedupe behaviour,
 * a readable store, and fault injection.
 */
export class KlaviyoEmulator {
  readonly store: KlaviyoEmulatorStore;
  readonly faults: KlaviyoEmulatorFaults;
  url = '';
  limitsEnabled: boolean;

  private readonly server: Server;
  private readonly now: () => number;
  private readonly limiter: FixedWindowRateLimiter;
  private readonly limits: Record<KlaviyoOperation, RateLimit>;
  private readonly contracts = new Map<KlaviyoOperation, OpenApiValidator>();
  private readonly apiKeys?: ReadonlySet<string>;
  private readonly asyncDelayMs: number | undefined;
  private readonly jobs = new Map<string, BulkJob>();
  private readonly pending = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: KlaviyoEmulatorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.store = new KlaviyoEmulatorStore({ retainEvents: options.retainEvents, now: this.now });
    this.faults = new KlaviyoEmulatorFaults(this.now);
    this.limiter = new FixedWindowRateLimiter(this.now);
    this.limitsEnabled = options.limits ?? true;
    this.limits = { ...KLAVIYO_RATE_LIMITS };
    for (const op of OPERATIONS) {
      const o = options.limitOverrides?.[op];
      if (o) this.limits[op] = { ...this.limits[op], ...o };
    }
    this.apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
    this.asyncDelayMs = options.asyncJobs === true ? 50 : options.asyncJobs ? options.asyncJobs.delayMs : undefined;
    // Compile every request validator now, not on the first (timed) request.
    for (const op of OPERATIONS) {
      const contract = klaviyoContract(op);
      this.contracts.set(op, contract);
    }
    for (const path of ['/api/event-bulk-create-jobs', '/api/events', '/api/profile-import', '/api/profile-bulk-import-jobs', '/api/data-privacy-deletion-jobs']) {
      const r = matchRoute('POST', path) as Route;
      this.contracts.get(r.op)!.validateRequestBody('post', path, {});
    }
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { errors: [klaviyoError(500, 'error', 'A server error occurred.', String(err))] });
      });
    });
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<this> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://${host}:${port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Waits for pending asynchronous jobs (asyncJobs) to be applied. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Forget everything: store, faults, rate-limit windows, jobs. */
  reset(): void {
    this.store.reset();
    this.faults.clear();
    this.limiter.reset();
    this.jobs.clear();
  }

  stats(): Record<string, unknown> {
    const metrics = this.store.metrics();
    return {
      requests: this.store.requestsTotal,
      byStatus: { ...this.store.statusCounts },
      throttled: this.store.throttled,
      eventsStored: this.store.eventsStored,
      duplicateEventsIgnored: this.store.duplicateEventsIgnored,
      metrics: Object.fromEntries(metrics.map((m) => [m.name, m.count])),
      profiles: this.store.profiles().length,
      deletions: this.store.deletions.length,
      pendingJobs: this.pending.size,
      limitsEnabled: this.limitsEnabled,
      limits: this.limits,
      /** Highest number of requests that arrived / were admitted in one fixed 1 s and 60 s window, per operation. */
      windows: this.store.windowPeaks(),
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const method = req.method ?? 'GET';
    const raw = await readBody(req, MAX_PAYLOAD_BYTES);

    if (path.startsWith('/__emulator')) return this.admin(method, path, query, raw, res);

    const route = matchRoute(method, path);
    const finish = (status: number, apiKey: string | null, events?: number) =>
      this.store.logRequest({
        at: new Date(this.now()).toISOString(),
        method,
        path,
        endpoint: typeof route === 'object' ? route.op : 'unknown',
        status,
        apiKey,
        durationMs: performance.now() - started,
        events,
      });
    if (route === undefined || route === 'method') {
      const status = route ? 405 : 404;
      const err = route
        ? klaviyoError(405, 'method_not_allowed', 'Method not allowed.', `Method "${method}" not allowed.`)
        : klaviyoError(404, 'not_found', 'Not found.', `No route for ${method} ${path}.`);
      send(res, status, { errors: [err] });
      return finish(status, null);
    }

    this.store.seenPeaks.record(route.op);
    const fault = this.faults.takeRequestFault(route.op);
    if (fault?.kind === '500') {
      send(res, 500, { errors: [klaviyoError(500, 'error', 'A server error occurred.', 'Injected fault: internal server error.')] });
      return finish(500, null);
    }
    if (fault?.kind === '429') {
      send(res, 429, throttledBody(fault.retryAfterSeconds), { 'Retry-After': String(fault.retryAfterSeconds) });
      return finish(429, null);
    }
    if (fault?.kind === 'delay') await this.sleep(fault.ms);
    if (fault?.kind === 'timeout' && !fault.processed) {
      this.dropAfter(req, fault.ms);
      return finish(0, null);
    }

    let apiKey: string | null = null;
    let rateHeaders: Record<string, string> = {};
    let reply: Reply;
    let headers: Record<string, string> = {};
    try {
      // Authenticate: "Authorization: Klaviyo-API-Key your-private-api-key"; Klaviyo answers 401
      // ("Not authorized: missing or bad API key") otherwise.
      const auth = AUTH.exec(String(req.headers.authorization ?? ''));
      if (!auth || (this.apiKeys && !this.apiKeys.has(auth[1]))) {
        throw new KlaviyoHttpError(401, [
          klaviyoError(401, auth ? 'authentication_failed' : 'not_authenticated', auth ? 'Incorrect authentication credentials.' : 'Authentication credentials were not provided.', auth ? 'The API key is not valid for this account.' : 'Missing or invalid Authorization header: expected "Klaviyo-API-Key <private key>".'),
        ]);
      }
      apiKey = auth[1];
      // Every operation in contracts/klaviyo declares the `revision` header as required.
      const revision = req.headers.revision;
      if (typeof revision !== 'string' || !REVISION.test(revision)) {
        throw new KlaviyoHttpError(400, [
          klaviyoError(400, 'invalid', 'Invalid input.', revision ? `Invalid revision header "${String(revision)}": expected YYYY-MM-DD[.suffix].` : 'Missing required header: revision.', { parameter: 'revision' }),
        ]);
      }
      if (this.limitsEnabled) {
        const d = this.limiter.take(`${apiKey}\u0000${route.op}`, this.limits[route.op]);
        if (!d.allowed) {
          // "the RateLimit-Limit, RateLimit-Remaining, and RateLimit-Reset headers are not returned when
          // you actually hit a HTTP 429 error ... those headers are replaced with a Retry-After header".
          throw new KlaviyoHttpError(429, throttledBody(d.retryAfterSeconds).errors, { 'Retry-After': String(d.retryAfterSeconds) });
        }
        rateHeaders = { 'RateLimit-Limit': String(d.limit), 'RateLimit-Remaining': String(d.remaining), 'RateLimit-Reset': String(d.resetSeconds) };
      }
      this.store.admittedPeaks.record(route.op);
      const body = route.method === 'POST' ? this.parseAndValidate(route, raw) : undefined;
      reply = this.dispatch(route, body, query, apiKey);
      headers = rateHeaders;
    } catch (err) {
      if (!(err instanceof KlaviyoHttpError)) throw err;
      reply = { status: err.status, body: err.body };
      headers = { ...rateHeaders, ...err.headers };
    }

    if (fault?.kind === 'timeout') {
      this.dropAfter(req, fault.ms);
      return finish(0, apiKey, reply.events);
    }
    send(res, reply.status, reply.body, headers);
    finish(reply.status, apiKey, reply.events);
  }

  private parseAndValidate(route: Route, raw: Buffer | 'too-large'): any {
    if (raw === 'too-large') {
      throw new KlaviyoHttpError(413, [klaviyoError(413, 'payload_too_large', 'Payload too large.', 'The maximum allowed payload size is 5MB.')]);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new KlaviyoHttpError(400, [klaviyoError(400, 'parse_error', 'Malformed request.', `JSON parse error - ${(e as Error).message}`, { pointer: '/' })]);
    }
    const result = this.contracts.get(route.op)!.validateRequestBody('post', route.contractPath, body);
    if (!result.valid) throw contractViolation(result.errors);
    return body;
  }

  private dispatch(route: Route, body: any, query: URLSearchParams, apiKey: string): Reply {
    switch (route.op) {
      case 'bulk_create_events':
        return this.bulkCreateEvents(body, apiKey);
      case 'create_event':
        return this.createEvent(body, apiKey);
      case 'create_or_update_profile':
        return this.createOrUpdateProfile(body);
      case 'bulk_import_profiles':
        return this.bulkImportProfiles(body);
      case 'get_bulk_import_profiles_job':
        return { status: 200, body: { data: this.jobResource(this.job(route.jobId!)), links: { self: `${this.url}/api/profile-bulk-import-jobs/${route.jobId}/` } } };
      case 'get_errors_for_bulk_import_profiles_job':
        return this.importErrors(this.job(route.jobId!), query);
      case 'request_profile_deletion':
        return this.requestDeletion(body, apiKey);
    }
  }

  /**
   * bulk_create_events (POST /api/event-bulk-create-jobs) → 202, no body. "If a unique_id is repeated
   * for the same profile and metric, the request will fail and no events will be processed"
   * (unique_id, BaseEventCreateQueryBulkEntryResourceObject); an invalid event fails the whole
   * request with 400 whose source.pointer names the event.
   */
  private bulkCreateEvents(body: any, apiKey: string): Reply {
    const entries: any[] = body.data.attributes['events-bulk-create'].data;
    let total = 0;
    for (const entry of entries) total += entry.attributes.events.data.length;
    if (total > MAX_EVENTS_PER_BULK_REQUEST) {
      throw invalidInput(`Accepts up to 1,000 events per request; got ${total}.`, BULK_EVENTS_POINTER);
    }
    const nowMs = this.now();
    const prepared: { profile: ProfileInput; ids: ProfileIdentifiers; events: EventInput[] }[] = new Array(entries.length);
    const inRequest = new Map<string, string>();
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i].attributes;
      const pdata = entry.profile.data;
      const ids = identifiersOf(pdata);
      const profileKey = this.store.profileKey(ids);
      if (!profileKey) {
        throw invalidInput('A profile identifier (id, email, phone_number or external_id) is required.', `${BULK_EVENTS_POINTER}/${i}/attributes/profile/data/attributes`);
      }
      const events: EventInput[] = new Array(entry.events.data.length);
      for (let j = 0; j < entry.events.data.length; j++) {
        const pointer = `${BULK_EVENTS_POINTER}/${i}/attributes/events/data/${j}`;
        const e = this.toEventInput(entry.events.data[j].attributes, entry.backfill, pointer, nowMs, ids);
        if (!e.uniqueIdDefaulted) {
          const key = `${profileKey}\u0001${e.metric}\u0001${e.unique_id}`;
          const first = inRequest.get(key);
          if (first) {
            throw invalidInput(
              `unique_id "${e.unique_id}" is repeated for the same profile and metric (first at ${first}); the request failed and no events were processed.`,
              `${pointer}/attributes/unique_id`,
            );
          }
          inRequest.set(key, pointer);
        }
        events[j] = e;
      }
      prepared[i] = { profile: pdata, ids, events };
    }
    this.runJob(() => {
      const at = new Date(this.now()).toISOString();
      for (const p of prepared) {
        const { profile } = this.store.upsertProfile(p.profile, at);
        for (const e of p.events) this.store.addEvent(profile, p.ids, e, 'bulk_create_events', apiKey, at);
      }
    });
    return { status: 202, events: total };
  }

  /** create_event (POST /api/events) → 202, no body; a repeated unique_id: "only the first processed event will be recorded". */
  private createEvent(body: any, apiKey: string): Reply {
    const attrs = body.data.attributes;
    const pdata = attrs.profile.data;
    const ids = identifiersOf(pdata);
    if (!this.store.profileKey(ids)) {
      throw invalidInput('A profile identifier (id, email, phone_number or external_id) is required.', '/data/attributes/profile/data/attributes');
    }
    const e = this.toEventInput(attrs, undefined, '/data', this.now(), ids);
    const at = new Date(this.now()).toISOString();
    const { profile } = this.store.upsertProfile(pdata, at);
    this.store.addEvent(profile, ids, e, 'create_event', apiKey, at);
    return { status: 202, events: 1 };
  }

  private toEventInput(attrs: any, entryBackfill: boolean | null | undefined, pointer: string, nowMs: number, ids: ProfileIdentifiers): EventInput {
    const metric: string = attrs.metric.data.attributes.name;
    // MetricCreateQueryResourceObject.name: "Name of the event. Must be less than 128 characters."
    if (metric.length === 0 || metric.length >= 128) {
      throw invalidInput('Metric name must be non-empty and less than 128 characters.', `${pointer}/attributes/metric/data/attributes/name`);
    }
    const properties = attrs.properties;
    let n = 0;
    for (const _ in properties) if (++n > MAX_EVENT_PROPERTIES) throw invalidInput('Properties of this event must not exceed 400 properties.', `${pointer}/attributes/properties`);
    // "The time is truncated to the second. The time must be after the year 1990 and can only be up to 1 year in the future."
    let t: number;
    if (attrs.time == null) t = nowMs;
    else {
      t = Date.parse(attrs.time);
      if (!(t > MIN_EVENT_TIME) || t > nowMs + YEAR_MS) {
        throw invalidInput('The time must be after the year 1990 and can only be up to 1 year in the future.', `${pointer}/attributes/time`);
      }
    }
    const time = new Date(t - (((t % 1000) + 1000) % 1000)).toISOString();
    const uniqueIdDefaulted = attrs.unique_id == null;
    const e: EventInput = {
      metric,
      properties,
      time,
      value: attrs.value ?? null,
      value_currency: attrs.value_currency ?? null,
      // "If this field is not present, this field will use the time to the second."
      unique_id: uniqueIdDefaulted ? time : attrs.unique_id,
      uniqueIdDefaulted,
      backfill: attrs.backfill ?? entryBackfill ?? false,
    };
    if (this.faults.hasEventRules) {
      const detail = this.faults.rejects({ metric, unique_id: attrs.unique_id ?? null, profile: ids, properties });
      if (detail) throw invalidInput(detail, pointer);
    }
    return e;
  }

  /** create_or_update_profile: "Returns 201 if a new profile was created, 200 if an existing profile was updated." */
  private createOrUpdateProfile(body: any): Reply {
    const data = body.data;
    const ids = identifiersOf(data);
    if (!ids.id && !ids.email && !ids.phone_number && !ids.external_id) {
      throw invalidInput('One of id, email, phone_number or external_id is required.', '/data/attributes');
    }
    const { profile, created } = this.store.upsertProfile(data, new Date(this.now()).toISOString());
    return { status: created ? 201 : 200, body: { data: this.profileResource(profile) } };
  }

  /** bulk_import_profiles → 202 with the job; "Accepts up to 10,000 profiles per request". */
  private bulkImportProfiles(body: any): Reply {
    const profiles: any[] = body.data.attributes.profiles.data;
    if (profiles.length > MAX_PROFILES_PER_BULK_IMPORT) {
      throw invalidInput(`Accepts up to 10,000 profiles per request; got ${profiles.length}.`, '/data/attributes/profiles/data');
    }
    const created = new Date(this.now());
    const job: BulkJob = {
      id: newKlaviyoId(),
      status: 'queued',
      created_at: created.toISOString(),
      total_count: profiles.length,
      completed_count: 0,
      failed_count: 0,
      started_at: null,
      completed_at: null,
      expires_at: new Date(created.getTime() + 7 * 24 * 3600 * 1000).toISOString(),
      errors: [],
      profileIds: [],
    };
    this.jobs.set(job.id, job);
    this.runJob(() => {
      const at = new Date(this.now()).toISOString();
      job.status = 'processing';
      job.started_at = at;
      profiles.forEach((p, i) => {
        const ids = identifiersOf(p);
        if (!ids.id && !ids.email && !ids.phone_number && !ids.external_id) {
          job.failed_count++;
          job.errors.push({
            id: newKlaviyoId(),
            code: 'invalid',
            title: 'Invalid input.',
            detail: 'One of id, email, phone_number or external_id is required.',
            source: { pointer: `/data/attributes/profiles/data/${i}` },
            original_payload: p,
          });
          return;
        }
        job.profileIds.push(this.store.upsertProfile(p, at).profile.id);
        job.completed_count++;
      });
      job.status = 'complete';
      job.completed_at = new Date(this.now()).toISOString();
    });
    return { status: 202, body: { data: this.jobResource(job) } };
  }

  private importErrors(job: BulkJob, query: URLSearchParams): Reply {
    const size = Math.min(100, Math.max(1, Number(query.get('page[size]') ?? 20) || 20));
    const offset = Math.max(0, Number(query.get('page[cursor]') ?? 0) || 0);
    const page = job.errors.slice(offset, offset + size);
    const self = `${this.url}/api/profile-bulk-import-jobs/${job.id}/import-errors/`;
    const links: Record<string, string> = { self };
    if (offset + size < job.errors.length) links.next = `${self}?page[cursor]=${offset + size}&page[size]=${size}`;
    return {
      status: 200,
      body: {
        data: page.map((e) => ({
          type: 'import-error',
          id: e.id,
          attributes: { code: e.code, title: e.title, detail: e.detail, source: e.source, original_payload: e.original_payload },
        })),
        links,
      },
    };
  }

  /**
   * request_profile_deletion → 202, no body: "Request a deletion for the profiles corresponding to one
   * of the following identifiers: email, phone_number, or id. If multiple identifiers are provided,
   * we will return an error."
   */
  private requestDeletion(body: any, apiKey: string): Reply {
    const data = body.data.attributes.profile.data;
    const identifier: { email?: string; phone_number?: string; id?: string } = {};
    if (data.id) identifier.id = data.id;
    if (data.attributes?.email) identifier.email = data.attributes.email;
    if (data.attributes?.phone_number) identifier.phone_number = data.attributes.phone_number;
    const count = Object.keys(identifier).length;
    if (count !== 1) {
      throw invalidInput(
        count === 0 ? 'One of email, phone_number or id is required.' : 'Only one of email, phone_number or id may be provided.',
        '/data/attributes/profile/data',
      );
    }
    // "The deletion occurs asynchronously": with asyncJobs it is applied after the job delay.
    this.runJob(() => this.store.deleteProfiles(identifier, apiKey, new Date(this.now()).toISOString()));
    return { status: 202 };
  }

  private job(id: string): BulkJob {
    const job = this.jobs.get(id);
    if (!job) throw new KlaviyoHttpError(404, [klaviyoError(404, 'not_found', 'Not found.', `No profile-bulk-import-job with id ${id}.`)]);
    return job;
  }

  private jobResource(job: BulkJob): Record<string, unknown> {
    return {
      type: 'profile-bulk-import-job',
      id: job.id,
      attributes: {
        status: job.status,
        created_at: job.created_at,
        total_count: job.total_count,
        completed_count: job.completed_count,
        failed_count: job.failed_count,
        completed_at: job.completed_at,
        expires_at: job.expires_at,
        started_at: job.started_at,
      },
      links: { self: `${this.url}/api/profile-bulk-import-jobs/${job.id}/` },
    };
  }

  private profileResource(p: StoredProfile): Record<string, unknown> {
    return {
      type: 'profile',
      id: p.id,
      attributes: {
        email: p.email,
        phone_number: p.phone_number,
        external_id: p.external_id,
        ...p.attributes,
        created: p.created,
        updated: p.updated,
        last_event_date: p.last_event_date,
        properties: p.properties,
      },
      links: { self: `${this.url}/api/profiles/${p.id}/` },
    };
  }

  /** Applies a job now, or (asyncJobs) after the configured delay. */
  private runJob(apply: () => unknown): void {
    if (this.asyncDelayMs === undefined) {
      apply();
      return;
    }
    const p = this.sleep(this.asyncDelayMs).then(() => void apply());
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private dropAfter(req: IncomingMessage, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      req.socket.destroy();
    }, ms);
    this.timers.add(t);
  }

  private admin(method: string, path: string, query: URLSearchParams, raw: Buffer | 'too-large', res: ServerResponse): void {
    const route = `${method} ${path}`;
    const paged = <T>(items: readonly T[]) => {
      const offset = Number(query.get('offset') ?? 0) || 0;
      const limit = query.has('limit') ? Number(query.get('limit')) : items.length;
      return { total: items.length, data: items.slice(offset, offset + limit) };
    };
    switch (route) {
      case 'GET /__emulator/events': {
        const metric = query.get('metric');
        const email = query.get('email');
        const uniqueId = query.get('unique_id');
        let events = this.store.events;
        if (metric || email || uniqueId) {
          events = events.filter((e) => (!metric || e.metric === metric) && (!email || e.profile.email === email) && (!uniqueId || e.unique_id === uniqueId));
        }
        return send(res, 200, paged(events));
      }
      case 'GET /__emulator/metrics':
        return send(res, 200, { data: this.store.metrics() });
      case 'GET /__emulator/profiles':
        return send(res, 200, paged(this.store.profiles()));
      case 'GET /__emulator/deletions':
        return send(res, 200, { data: this.store.deletions });
      case 'GET /__emulator/requests':
        return send(res, 200, paged(this.store.requestLog()));
      case 'GET /__emulator/stats':
        return send(res, 200, this.stats());
      case 'GET /__emulator/faults':
        return send(res, 200, this.faults.describe());
      case 'DELETE /__emulator/faults':
        this.faults.clear();
        return send(res, 200, this.faults.describe());
      case 'POST /__emulator/faults': {
        let request: FaultRequest;
        try {
          request = raw === 'too-large' || raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
        } catch {
          return send(res, 400, { errors: [klaviyoError(400, 'parse_error', 'Malformed request.', 'Body must be JSON.')] });
        }
        this.faults.apply(request);
        return send(res, 200, this.faults.describe());
      }
      case 'POST /__emulator/limits': {
        const body = raw === 'too-large' || raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
        if (typeof body.enabled === 'boolean') this.limitsEnabled = body.enabled;
        return send(res, 200, { enabled: this.limitsEnabled });
      }
      case 'POST /__emulator/reset':
        this.reset();
        return send(res, 200, { reset: true });
      default:
        return send(res, 404, { errors: [klaviyoError(404, 'not_found', 'Not found.', `No emulator route ${route}.`)] });
    }
  }
}

/** Starts an emulator listening on `options.port` (0 = random) and resolves once it accepts requests. */
export async function startKlaviyoEmulator(options: KlaviyoEmulatorOptions = {}): Promise<KlaviyoEmulator> {
  return new KlaviyoEmulator(options).listen();
}

function identifiersOf(data: any): ProfileIdentifiers {
  const a = data.attributes ?? {};
  return { id: data.id ?? null, email: a.email ?? null, phone_number: a.phone_number ?? null, external_id: a.external_id ?? null };
}

function throttledBody(retryAfterSeconds: number) {
  return {
    errors: [
      klaviyoError(429, 'throttled', 'Request was throttled.', `Request was throttled. Expected available in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`),
    ],
  };
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, { ...headers, 'Content-Length': '0' });
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/vnd.api+json', 'Content-Length': String(Buffer.byteLength(payload)) });
  res.end(payload);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
