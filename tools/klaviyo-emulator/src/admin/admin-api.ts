import type { ServerResponse } from 'node:http';
import { AccountDefinitionError, type AccountRegistry } from '../accounts/account-registry';
import type { AccountOptions, EmulatedAccount } from '../accounts/emulated-account';
import { send } from '../http/http-io';
import type { ApiRateLimits } from '../http/rate-limits';
import type { FaultRequest, KlaviyoEmulatorFaults } from '../klaviyo-emulator.faults';
import type { KlaviyoEmulatorStore } from '../klaviyo-emulator.store';
import { klaviyoError } from '../klaviyo-error.util';
import { appView, OAuthAppDefinitionError, type OAuthAppOptions, type OAuthApps } from '../oauth/oauth-apps';
import type { Grant, OAuthGrants } from '../oauth/oauth-grants';

/** What the admin API reads and drives. */
export interface AdminTarget {
  readonly store: KlaviyoEmulatorStore;
  readonly faults: KlaviyoEmulatorFaults;
  readonly limits: ApiRateLimits;
  readonly accounts: AccountRegistry;
  readonly oauthApps: OAuthApps;
  readonly oauthGrants: OAuthGrants;
  limitsEnabled: boolean;
  stats(account?: EmulatedAccount): Record<string, unknown>;
  reset(): void;
}

class BadRequest extends Error {}

/** POST /__emulator/accounts: AccountOptions, each field also in snake_case. */
type AccountBody = AccountOptions & {
  readonly private_keys?: AccountOptions['privateKeys'];
  readonly limits?: AccountOptions['limitOverrides'];
  readonly preferred_currency?: string;
};
/** POST /__emulator/oauth-apps: OAuthAppOptions, each field also in snake_case. */
type OAuthAppBody = OAuthAppOptions & {
  readonly redirect_uris?: readonly string[];
  readonly client_id?: string;
  readonly client_secret?: string;
};
/** POST /__emulator/oauth/expire-access-tokens and revoke-grants. */
type GrantMatch = { readonly client_id?: string; readonly account_id?: string };

/** The parsed JSON body of an admin request (the emulator's own test API: the registries check the fields). */
function jsonOrEmpty(raw: Buffer | 'too-large'): unknown {
  if (raw === 'too-large') throw new BadRequest('Body too large.');
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequest('Body must be JSON.');
  }
}

const notFound = (res: ServerResponse, detail: string) =>
  send(res, 404, { errors: [klaviyoError(404, 'not_found', 'Not found.', detail)] });
const badRequest = (res: ServerResponse, detail: string) =>
  send(res, 400, { errors: [klaviyoError(400, 'invalid', 'Invalid input.', detail)] });

const ACCOUNT_PATH = /^\/__emulator\/accounts\/([^/]+)(\/[a-z]+)?$/;

/** The emulator-only endpoints under /__emulator (no auth, no limits, not logged); see the README. */
export function handleAdmin(
  target: AdminTarget,
  method: string,
  path: string,
  query: URLSearchParams,
  raw: Buffer | 'too-large',
  res: ServerResponse,
): void {
  try {
    const account = ACCOUNT_PATH.exec(path);
    if (account) {
      const a = target.accounts.get(decodeURIComponent(account[1]));
      if (!a) return notFound(res, `No emulated account ${account[1]}.`);
      if (!account[2])
        return method === 'GET'
          ? send(res, 200, accountView(a, target))
          : notFound(res, `No emulator route ${method} ${path}.`);
      // This account's own faults: only its requests see them (the emulator-wide ones: /__emulator/faults)
      if (account[2] === '/faults') return handleFaults(a.faults, method, path, raw, res);
      if (handleAccountRead(target, a, `${method} ${account[2]}`, query, res)) return;
      return notFound(res, `No emulator route ${method} ${path}.`);
    }
    if (path.startsWith('/__emulator/accounts') || path.startsWith('/__emulator/oauth'))
      return handleRegistries(target, `${method} ${path}`, raw, res);
    if (
      handleAccountRead(
        target,
        target.accounts.defaultAccount,
        `${method} ${path.slice('/__emulator'.length)}`,
        query,
        res,
      )
    )
      return;
    return handleControls(target, `${method} ${path}`, query, raw, res);
  } catch (err) {
    if (err instanceof BadRequest || err instanceof AccountDefinitionError || err instanceof OAuthAppDefinitionError)
      return badRequest(res, err.message);
    throw err;
  }
}

/** GET /events, /metrics, /profiles, /deletions, /requests, /stats of one account (the default one at /__emulator/...). */
function handleAccountRead(
  target: AdminTarget,
  account: EmulatedAccount,
  route: string,
  query: URLSearchParams,
  res: ServerResponse,
): boolean {
  const { store } = account;
  const paged = <T>(items: readonly T[]) => {
    const offset = Number(query.get('offset') ?? 0) || 0;
    const limit = query.has('limit') ? Number(query.get('limit')) : items.length;
    return { total: items.length, data: items.slice(offset, offset + limit) };
  };
  switch (route) {
    case 'GET /events': {
      const metric = query.get('metric');
      const email = query.get('email');
      const uniqueId = query.get('unique_id');
      const integration = query.get('integration');
      let events = store.events;
      if (metric || email || uniqueId || integration) {
        events = events.filter(
          (e) =>
            (!metric || e.metric === metric) &&
            (!email || e.profile.email === email) &&
            (!uniqueId || e.unique_id === uniqueId) &&
            (!integration || e.integration === integration),
        );
      }
      send(res, 200, paged(events));
      return true;
    }
    case 'GET /metrics':
      send(res, 200, { data: store.metrics() });
      return true;
    case 'GET /profiles':
      send(res, 200, paged(store.profiles()));
      return true;
    case 'GET /deletions':
      send(res, 200, { data: store.deletions });
      return true;
    case 'GET /requests':
      send(res, 200, paged(store.requestLog()));
      return true;
    case 'GET /stats':
      send(res, 200, target.stats(account));
      return true;
    default:
      return false;
  }
}

/** Accounts, OAuth apps and grants. */
function handleRegistries(target: AdminTarget, route: string, raw: Buffer | 'too-large', res: ServerResponse): void {
  const { accounts, oauthApps, oauthGrants } = target;
  switch (route) {
    case 'GET /__emulator/accounts':
      return send(res, 200, { data: accounts.list().map((a) => accountView(a, target)) });
    case 'POST /__emulator/accounts': {
      const b = jsonOrEmpty(raw) as AccountBody;
      const options: AccountOptions = {
        id: b.id,
        name: b.name,
        privateKeys: b.private_keys ?? b.privateKeys,
        limitOverrides: b.limits ?? b.limitOverrides,
        timezone: b.timezone,
        preferredCurrency: b.preferred_currency,
        locale: b.locale,
      };
      const { account, privateKeys } = accounts.create(options);
      // The keys are shown in full once, on creation (Klaviyo shows a new private key once).
      return send(res, 201, { ...accountView(account, target), private_keys: privateKeys });
    }
    case 'GET /__emulator/oauth-apps':
      return send(res, 200, { data: oauthApps.list().map(appView) });
    case 'POST /__emulator/oauth-apps': {
      const b = jsonOrEmpty(raw) as OAuthAppBody;
      const options: OAuthAppOptions = {
        name: b.name,
        redirectUris: b.redirect_uris ?? b.redirectUris,
        scopes: b.scopes,
        clientId: b.client_id ?? b.clientId,
        clientSecret: b.client_secret ?? b.clientSecret,
        category: b.category,
      };
      const { app, clientSecret } = oauthApps.create(options);
      return send(res, 201, { ...appView(app), client_secret: clientSecret });
    }
    case 'GET /__emulator/oauth/grants':
      return send(res, 200, { data: oauthGrants.list().map(grantView) });
    case 'POST /__emulator/oauth/expire-access-tokens':
      return send(res, 200, { expired: oauthGrants.expireAccessTokens(grantMatcher(jsonOrEmpty(raw) as GrantMatch)) });
    case 'POST /__emulator/oauth/revoke-grants':
      return send(res, 200, { revoked: oauthGrants.revokeGrants(grantMatcher(jsonOrEmpty(raw) as GrantMatch)) });
    default:
      return notFound(res, `No emulator route ${route}.`);
  }
}

/** Faults, limits, reset (emulator-wide). */
function handleControls(
  target: AdminTarget,
  route: string,
  query: URLSearchParams,
  raw: Buffer | 'too-large',
  res: ServerResponse,
): void {
  if (route.endsWith(' /__emulator/faults'))
    return handleFaults(target.faults, route.slice(0, route.indexOf(' ')), '/__emulator/faults', raw, res);
  switch (route) {
    case 'GET /__emulator/events/where':
      return send(res, 200, eventsWhere(target, query));
    case 'GET /__emulator/events/overlap':
      return send(res, 200, eventsOverlap(target));
    case 'POST /__emulator/limits': {
      const body = jsonOrEmpty(raw) as { readonly enabled?: unknown };
      if (typeof body.enabled === 'boolean') target.limitsEnabled = body.enabled;
      return send(res, 200, { enabled: target.limitsEnabled });
    }
    case 'POST /__emulator/reset':
      target.reset();
      return send(res, 200, { reset: true });
    default:
      return notFound(res, `No emulator route ${route}.`);
  }
}

/** GET / POST / DELETE of a fault set (emulator-wide, or one account's). */
function handleFaults(
  faults: KlaviyoEmulatorFaults,
  method: string,
  path: string,
  raw: Buffer | 'too-large',
  res: ServerResponse,
): void {
  switch (method) {
    case 'GET':
      return send(res, 200, faults.describe());
    case 'DELETE':
      faults.clear();
      return send(res, 200, faults.describe());
    case 'POST': {
      let request: FaultRequest;
      try {
        request = jsonOrEmpty(raw) as FaultRequest;
      } catch {
        return send(res, 400, {
          errors: [klaviyoError(400, 'parse_error', 'Malformed request.', 'Body must be JSON.')],
        });
      }
      if (typeof request !== 'object' || request === null || Array.isArray(request))
        return badRequest(res, 'Body must be a JSON object of faults.');
      try {
        faults.apply(request);
      } catch (err) {
        if (err instanceof RangeError) return badRequest(res, err.message);
        throw err;
      }
      return send(res, 200, faults.describe());
    }
    default:
      return notFound(res, `No emulator route ${method} ${path}.`);
  }
}

function retainedEvents(target: AdminTarget): void {
  const without = target.accounts.list().filter((a) => !a.store.retainsEvents);
  if (without.length > 0)
    throw new BadRequest(`Events are not retained (retainEvents: false) in ${without.map((a) => a.id).join(', ')}.`);
}

/**
 * GET /__emulator/events/where?unique_id=&email=&metric=: in which accounts events matching every
 * given filter are stored, and how many (at least one filter).
 */
function eventsWhere(target: AdminTarget, query: URLSearchParams): Record<string, unknown> {
  const uniqueId = query.get('unique_id');
  const email = query.get('email');
  const metric = query.get('metric');
  if (!uniqueId && !email && !metric) throw new BadRequest('Give unique_id, email or metric.');
  retainedEvents(target);
  const data: { account: string; events: number }[] = [];
  for (const a of target.accounts.list()) {
    const n = a.store.events.filter(
      (e) =>
        (!uniqueId || e.unique_id === uniqueId) &&
        (!email || e.profile.email === email) &&
        (!metric || e.metric === metric),
    ).length;
    if (n > 0) data.push({ account: a.id, events: n });
  }
  return { data };
}

/** GET /__emulator/events/overlap: every unique_id stored in more than one account, with those accounts. */
function eventsOverlap(target: AdminTarget): Record<string, unknown> {
  retainedEvents(target);
  const where = new Map<string, Set<string>>();
  for (const a of target.accounts.list())
    for (const e of a.store.events) {
      let s = where.get(e.unique_id);
      if (!s) where.set(e.unique_id, (s = new Set()));
      s.add(a.id);
    }
  const data = [...where]
    .filter(([, accounts]) => accounts.size > 1)
    .map(([uniqueId, accounts]) => ({ unique_id: uniqueId, accounts: [...accounts].sort() }));
  return { total: data.length, data };
}

/** An account as the admin API lists it: its keys by their last 4 characters only (shown whole once, on creation). */
function accountView(a: EmulatedAccount, target: AdminTarget): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    default: a === target.accounts.defaultAccount,
    private_keys: a.privateKeys().map((k) => `…${k.slice(-4)}`),
    accepts_any_key: a === target.accounts.defaultAccount && !a.listsKeys,
    events: a.store.eventsStored,
    metrics: a.store.metrics().length,
    profiles: a.store.profiles().length,
    deletions: a.store.deletions.length,
    duplicate_events_ignored: a.store.duplicateEventsIgnored,
    // its own request counters: every request authenticated as this account (faults included)
    requests: a.store.requestsTotal,
    by_status: { ...a.store.statusCounts },
    throttled: a.store.throttled,
    faults: a.faults.describe(),
    limits: a.limits.limits,
  };
}

function grantView(g: Grant): Record<string, unknown> {
  return {
    id: g.id,
    client_id: g.clientId,
    account_id: g.accountId,
    scopes: g.scopes,
    revoked: g.revoked,
    created_at: new Date(g.createdAt).toISOString(),
  };
}

function grantMatcher(b: GrantMatch): (g: Grant) => boolean {
  return (g) =>
    (b.client_id === undefined || g.clientId === b.client_id) &&
    (b.account_id === undefined || g.accountId === b.account_id);
}
