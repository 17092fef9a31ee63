import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AccountRegistry } from './accounts/account-registry';
import type { AccountOptions, EmulatedAccount } from './accounts/emulated-account';
import { handleAdmin } from './admin/admin-api';
import { authenticate, checkRevision, checkScopes, senderLabel, type Principal } from './http/api-key.auth';
import { ContractValidation } from './http/contract-validation';
import { readBody, send } from './http/http-io';
import { ApiRateLimits, throttledBody } from './http/rate-limits';
import { matchRoute } from './http/route';
import { JobRunner } from './jobs/job-runner';
import {
  KLAVIYO_RATE_LIMITS,
  MAX_PAYLOAD_BYTES,
  OAUTH_ACCESS_TOKEN_TTL_MS,
  OAUTH_CODE_TTL_MS,
  OAUTH_REFRESH_IDLE_TTL_MS,
  type KlaviyoOperation,
  type RateLimit,
} from './klaviyo-emulator.constants';
import { combinedRejections, KlaviyoEmulatorFaults, type RequestFault } from './klaviyo-emulator.faults';
import type { KlaviyoEmulatorStore } from './klaviyo-emulator.store';
import { klaviyoError, KlaviyoHttpError } from './klaviyo-error.util';
import { OAuthApps, type OAuthAppOptions } from './oauth/oauth-apps';
import { OAuthEndpoints } from './oauth/oauth-endpoints';
import { OAuthGrants, type OAuthLifetimes } from './oauth/oauth-grants';
import type { OperationContext, Reply } from './operations/operation';
import { OPERATIONS } from './operations/operations.registry';

export interface KlaviyoEmulatorOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Enforce Klaviyo's per-account burst/steady limits (default true). Off for benchmarks. */
  readonly limits?: boolean;
  /** Per-operation overrides of the documented limits, in every account (an account's own overrides win). */
  readonly limitOverrides?: Partial<Record<KlaviyoOperation, Partial<RateLimit>>>;
  /**
   * Apply bulk jobs after a delay (as Klaviyo's asynchronous jobs do) instead of before answering.
   * `true` means 50 ms; use `emulator.drain()` to wait for pending jobs.
   */
  readonly asyncJobs?: boolean | { readonly delayMs: number };
  /** The default account accepts only these API keys (default: any non-empty key no other account holds). */
  readonly apiKeys?: readonly string[];
  /** The default account's id (6 letters or digits, default `EmuDef`) and organization name. */
  readonly defaultAccount?: { readonly id?: string; readonly name?: string };
  /** More accounts, each with its own keys, limits and store (also `POST /__emulator/accounts`). */
  readonly accounts?: readonly AccountOptions[];
  /** OAuth apps (also `POST /__emulator/oauth-apps`). */
  readonly oauthApps?: readonly OAuthAppOptions[];
  /** OAuth lifetimes: access tokens (default 1 h, Klaviyo's), codes (10 min), refresh tokens unused (90 days). */
  readonly oauth?: Partial<OAuthLifetimes>;
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
  readonly faults: KlaviyoEmulatorFaults;
  /** The accounts: the default one (`store`, `limits`) and any other configured or created. */
  readonly accounts: AccountRegistry;
  readonly oauthApps: OAuthApps;
  readonly oauthGrants: OAuthGrants;
  url = '';

  private readonly server: Server;
  private readonly now: () => number;
  private readonly contracts: ContractValidation;
  private readonly runner: JobRunner;
  private readonly oauth: OAuthEndpoints;
  private readonly contexts = new WeakMap<EmulatedAccount, OperationContext>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: KlaviyoEmulatorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.faults = new KlaviyoEmulatorFaults(this.now);
    this.accounts = new AccountRegistry(
      {
        now: this.now,
        limits: options.limits ?? true,
        limitOverrides: options.limitOverrides,
        retainEvents: options.retainEvents,
      },
      { ...options.defaultAccount, apiKeys: options.apiKeys },
    );
    for (const a of options.accounts ?? []) this.accounts.create(a);
    this.oauthApps = new OAuthApps(this.now);
    for (const app of options.oauthApps ?? []) this.oauthApps.create(app);
    this.oauthGrants = new OAuthGrants(this.now, {
      accessTokenTtlMs: options.oauth?.accessTokenTtlMs ?? OAUTH_ACCESS_TOKEN_TTL_MS,
      codeTtlMs: options.oauth?.codeTtlMs ?? OAUTH_CODE_TTL_MS,
      refreshIdleTtlMs: options.oauth?.refreshIdleTtlMs ?? OAUTH_REFRESH_IDLE_TTL_MS,
    });
    this.oauth = new OAuthEndpoints(this.oauthApps, this.oauthGrants, this.accounts, () => this.url);
    this.runner = new JobRunner(
      options.asyncJobs === true ? 50 : options.asyncJobs ? options.asyncJobs.delayMs : undefined,
    );
    this.contracts = new ContractValidation(Object.keys(KLAVIYO_RATE_LIMITS) as KlaviyoOperation[]);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent)
          send(res, 500, { errors: [klaviyoError(500, 'error', 'A server error occurred.', String(err))] });
      });
    });
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** The default account's store (the single account of the emulator before accounts existed). */
  get store(): KlaviyoEmulatorStore {
    return this.accounts.defaultAccount.store;
  }

  /** The default account's rate limits. */
  get limits(): ApiRateLimits {
    return this.accounts.defaultAccount.limits;
  }

  /** Whether Klaviyo's rate limits are enforced, in every account (also `POST /__emulator/limits`). */
  get limitsEnabled(): boolean {
    return this.limits.enabled;
  }

  set limitsEnabled(enabled: boolean) {
    for (const a of this.accounts.list()) a.limits.enabled = enabled;
  }

  /** The account with this id (throws when there is none: a test's typo should not read an empty store). */
  account(id: string): EmulatedAccount {
    const a = this.accounts.get(id);
    if (!a) throw new Error(`the Klaviyo emulator has no account ${id}`);
    return a;
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

  /**
   * Forget everything: every account's store, rate-limit windows and jobs, the faults, and OAuth codes,
   * grants and tokens. Accounts and OAuth apps stay registered.
   */
  reset(): void {
    for (const a of this.accounts.list()) a.reset();
    this.faults.clear();
    this.oauthGrants.clear();
  }

  /** The default account's figures (as before accounts existed), and how many accounts and apps there are. */
  stats(account: EmulatedAccount = this.accounts.defaultAccount): Record<string, unknown> {
    const { store, limits } = account;
    const metrics = store.metrics();
    return {
      account: account.id,
      requests: store.requestsTotal,
      byStatus: { ...store.statusCounts },
      throttled: store.throttled,
      eventsStored: store.eventsStored,
      duplicateEventsIgnored: store.duplicateEventsIgnored,
      // By name; a name two integrations created counts both.
      metrics: metrics.reduce<Record<string, number>>(
        (acc, m) => ({ ...acc, [m.name]: (acc[m.name] ?? 0) + m.count }),
        {},
      ),
      profiles: store.profiles().length,
      deletions: store.deletions.length,
      pendingJobs: this.runner.pendingCount,
      limitsEnabled: limits.enabled,
      limits: limits.limits,
      /** Highest number of requests that arrived / were admitted in one fixed 1 s and 60 s window, per operation. */
      windows: store.windowPeaks(),
      accounts: this.accounts.list().length,
      oauthApps: this.oauthApps.list().length,
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
    if (path.startsWith('/oauth/')) return this.oauth.handle(method, path, query, req.headers, raw, res);

    const route = matchRoute(method, path);
    let principal: Principal | undefined;
    // Logged in the account of the key or token; unauthenticated requests in the default account.
    const finish = (status: number, apiKey: string | null, events?: number) =>
      (principal?.account.store ?? this.store).logRequest({
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
    // Arrivals count in the default account: which account a request is for is known only after auth.
    this.store.seenPeaks.record(route.op);
    const fault = this.faults.takeRequestFault(route.op);
    if (fault && (await this.answerFault(fault, req, res, (status) => finish(status, null)))) return;

    let apiKey: string | null = null;
    let accountFault: RequestFault | undefined;
    let rateHeaders: Record<string, string> = {};
    let reply: Reply;
    let headers: Record<string, string>;
    try {
      principal = authenticate(req.headers, this.accounts, this.oauthApps, this.oauthGrants);
      apiKey = senderLabel(principal);
      const account = principal.account;
      // The account's own faults: only its requests see them, other accounts answer normally
      accountFault = account.faults.takeRequestFault(route.op);
      const label = apiKey;
      if (accountFault && (await this.answerFault(accountFault, req, res, (status) => finish(status, label)))) return;
      checkRevision(req.headers);
      checkScopes(principal, this.contracts.scopes(route.op));
      rateHeaders = account.limits.take(account.quotaKey(principal), route.op);
      account.store.admittedPeaks.record(route.op);
      if (route.strictQuery) this.contracts.checkQuery(route, query);
      const body = route.method === 'POST' ? this.contracts.parse(route, raw) : undefined;
      reply = OPERATIONS[route.op](this.contextOf(account), {
        body,
        query,
        apiKey,
        integration: principal.integration,
        jobId: route.jobId,
        resourceId: route.resourceId,
      });
      headers = rateHeaders;
    } catch (err) {
      if (!(err instanceof KlaviyoHttpError)) throw err;
      reply = { status: err.status, body: err.body };
      headers = { ...rateHeaders, ...err.headers };
    }

    const lost = fault?.kind === 'timeout' ? fault : accountFault?.kind === 'timeout' ? accountFault : undefined;
    if (lost) {
      this.runner.dropAfter(req, lost.ms, lost.reset);
      return finish(0, apiKey, reply.events);
    }
    send(res, reply.status, reply.body, headers);
    finish(reply.status, apiKey, reply.events);
  }

  /**
   * Answers an injected fault: 500/502/503/504, 401, 403 or 429 (true: answered, `finish` called
   * with the status); a delay waits and goes on; a timeout that is not `processed` drops the
   * request (true); a processed one goes on and is dropped after the operation.
   */
  private async answerFault(
    fault: RequestFault,
    req: IncomingMessage,
    res: ServerResponse,
    finish: (status: number) => void,
  ): Promise<boolean> {
    switch (fault.kind) {
      case '500': {
        const status = fault.status ?? 500;
        send(res, status, {
          errors: [
            klaviyoError(
              status,
              'error',
              'A server error occurred.',
              status === 500 ? 'Injected fault: internal server error.' : `Injected fault: ${status}.`,
            ),
          ],
        });
        finish(status);
        return true;
      }
      case '401':
        send(res, 401, {
          errors: [
            klaviyoError(
              401,
              'authentication_failed',
              'Incorrect authentication credentials.',
              'Injected fault: the API key is not valid.',
            ),
          ],
        });
        finish(401);
        return true;
      case '403':
        send(res, 403, {
          errors: [
            klaviyoError(
              403,
              'permission_denied',
              'You do not have permission to perform this action.',
              'Injected fault: the credentials lack the scope this endpoint needs.',
            ),
          ],
        });
        finish(403);
        return true;
      case '429':
        send(res, 429, throttledBody(fault.retryAfterSeconds), { 'Retry-After': String(fault.retryAfterSeconds) });
        finish(429);
        return true;
      case 'delay':
        await this.runner.sleep(fault.ms);
        return false;
      case 'timeout':
        if (fault.processed) return false;
        this.runner.dropAfter(req, fault.ms, fault.reset);
        finish(0);
        return true;
    }
  }

  private contextOf(account: EmulatedAccount): OperationContext {
    let ctx = this.contexts.get(account);
    if (!ctx) {
      ctx = {
        account,
        store: account.store,
        faults: combinedRejections(this.faults, account.faults),
        jobs: account.jobs,
        runner: this.runner,
        now: this.now,
        baseUrl: () => this.url,
      };
      this.contexts.set(account, ctx);
    }
    return ctx;
  }
}

/** Starts an emulator listening on `options.port` (0 = random) and resolves once it accepts requests. */
export async function startKlaviyoEmulator(options: KlaviyoEmulatorOptions = {}): Promise<KlaviyoEmulator> {
  return new KlaviyoEmulator(options).listen();
}
