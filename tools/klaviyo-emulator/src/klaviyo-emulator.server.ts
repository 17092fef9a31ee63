import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { handleAdmin } from './admin/admin-api';
import { authenticate, checkRevision } from './http/api-key.auth';
import { ContractValidation } from './http/contract-validation';
import { readBody, send } from './http/http-io';
import { ApiRateLimits, throttledBody } from './http/rate-limits';
import { matchRoute } from './http/route';
import { BulkImportJobs } from './jobs/bulk-import-jobs';
import { JobRunner } from './jobs/job-runner';
import { KLAVIYO_RATE_LIMITS, MAX_PAYLOAD_BYTES, type KlaviyoOperation, type RateLimit } from './klaviyo-emulator.constants';
import { KlaviyoEmulatorFaults } from './klaviyo-emulator.faults';
import { KlaviyoEmulatorStore } from './klaviyo-emulator.store';
import { klaviyoError, KlaviyoHttpError } from './klaviyo-error.util';
import type { OperationContext, Reply } from './operations/operation';
import { OPERATIONS } from './operations/operations.registry';

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

/**
 * An in-process stand-in for the Klaviyo API (revision 2026-07-15) serving the operations in
 * contracts/klaviyo/, with Klaviyo's validation, auth, revision, rate-limit and dedupe behaviour,
 * a readable store, and fault injection. This class is the request pipeline; each step is its own
 * file (http/, operations/, jobs/, admin/).
 */
export class KlaviyoEmulator {
  readonly store: KlaviyoEmulatorStore;
  readonly faults: KlaviyoEmulatorFaults;
  readonly limits: ApiRateLimits;
  url = '';

  private readonly server: Server;
  private readonly now: () => number;
  private readonly contracts: ContractValidation;
  private readonly apiKeys?: ReadonlySet<string>;
  private readonly jobs = new BulkImportJobs();
  private readonly runner: JobRunner;
  private readonly context: OperationContext;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: KlaviyoEmulatorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.store = new KlaviyoEmulatorStore({ retainEvents: options.retainEvents, now: this.now });
    this.faults = new KlaviyoEmulatorFaults(this.now);
    this.limits = new ApiRateLimits(this.now, options.limits ?? true, options.limitOverrides);
    this.apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
    this.runner = new JobRunner(options.asyncJobs === true ? 50 : options.asyncJobs ? options.asyncJobs.delayMs : undefined);
    this.contracts = new ContractValidation(Object.keys(KLAVIYO_RATE_LIMITS) as KlaviyoOperation[]);
    this.context = { store: this.store, faults: this.faults, jobs: this.jobs, runner: this.runner, now: this.now, baseUrl: () => this.url };
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

  /** Whether Klaviyo's rate limits are enforced (also `POST /__emulator/limits`). */
  get limitsEnabled(): boolean {
    return this.limits.enabled;
  }

  set limitsEnabled(enabled: boolean) {
    this.limits.enabled = enabled;
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
    this.runner.cancelAll();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Waits for pending asynchronous jobs (asyncJobs) to be applied. */
  drain(): Promise<void> {
    return this.runner.drain();
  }

  /** Forget everything: store, faults, rate-limit windows, jobs. */
  reset(): void {
    this.store.reset();
    this.faults.clear();
    this.limits.reset();
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
      pendingJobs: this.runner.pendingCount,
      limitsEnabled: this.limits.enabled,
      limits: this.limits.limits,
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

    if (path.startsWith('/__emulator')) return handleAdmin(this, method, path, query, raw, res);

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

    // Injected faults come before anything Klaviyo would check (an outage does not read the request).
    this.store.seenPeaks.record(route.op);
    const fault = this.faults.takeRequestFault(route.op);
    if (fault?.kind === '500') {
      send(res, 500, { errors: [klaviyoError(500, 'error', 'A server error occurred.', 'Injected fault: internal server error.')] });
      return finish(500, null);
    }
    if (fault?.kind === '401') {
      send(res, 401, { errors: [klaviyoError(401, 'authentication_failed', 'Incorrect authentication credentials.', 'Injected fault: the API key is not valid.')] });
      return finish(401, null);
    }
    if (fault?.kind === '429') {
      send(res, 429, throttledBody(fault.retryAfterSeconds), { 'Retry-After': String(fault.retryAfterSeconds) });
      return finish(429, null);
    }
    if (fault?.kind === 'delay') await this.runner.sleep(fault.ms);
    if (fault?.kind === 'timeout' && !fault.processed) {
      this.runner.dropAfter(req, fault.ms, fault.reset);
      return finish(0, null);
    }

    let apiKey: string | null = null;
    let rateHeaders: Record<string, string> = {};
    let reply: Reply;
    let headers: Record<string, string> = {};
    try {
      apiKey = authenticate(req.headers, this.apiKeys);
      checkRevision(req.headers);
      rateHeaders = this.limits.take(apiKey, route.op);
      this.store.admittedPeaks.record(route.op);
      const body = route.method === 'POST' ? this.contracts.parse(route, raw) : undefined;
      reply = OPERATIONS[route.op](this.context, { body, query, apiKey, jobId: route.jobId });
      headers = rateHeaders;
    } catch (err) {
      if (!(err instanceof KlaviyoHttpError)) throw err;
      reply = { status: err.status, body: err.body };
      headers = { ...rateHeaders, ...err.headers };
    }

    if (fault?.kind === 'timeout') {
      this.runner.dropAfter(req, fault.ms, fault.reset);
      return finish(0, apiKey, reply.events);
    }
    send(res, reply.status, reply.body, headers);
    finish(reply.status, apiKey, reply.events);
  }
}

/** Starts an emulator listening on `options.port` (0 = random) and resolves once it accepts requests. */
export async function startKlaviyoEmulator(options: KlaviyoEmulatorOptions = {}): Promise<KlaviyoEmulator> {
  return new KlaviyoEmulator(options).listen();
}
