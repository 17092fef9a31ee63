import { Secret, loadConfig } from '@iks/config';
import { StaticConnections, type Connection, type KlaviyoOAuthGrant } from '@iks/connections';
import { OAuthTokenError, type KlaviyoTokens } from '@iks/oauth';
import { KlaviyoTokenSources, NEEDS_REAUTH_CODE, type GrantWriter } from './klaviyo-token-sources';
import { createTokenSources } from './sink-stage.module';

const HOUR = 3600_000;

function grant(n: number, expiresAt: number): KlaviyoOAuthGrant {
  return {
    clientId: 'app-client-id',
    accessToken: new Secret(`kat_${n}`),
    refreshToken: new Secret(`krt_${n}`),
    expiresAt,
    scopes: ['events:write'],
  };
}

function oauthConnection(id: string, g: KlaviyoOAuthGrant, over: Partial<Connection> = {}): Connection {
  return {
    id,
    name: `Brand ${id}`,
    status: 'active',
    revision: 1,
    updatedAt: 0,
    fromEnvironment: false,
    intercom: {
      appId: `app-${id}`,
      region: 'US',
      apiBaseUrl: 'http://127.0.0.1:1',
      auth: 'token',
      clientSecret: null,
      accessToken: null,
    },
    klaviyo: { accountId: 'Acct01', apiBaseUrl: 'http://klaviyo.test', auth: 'oauth', privateKey: null, oauth: g },
    settings: { metricNames: {}, defaultPhoneRegion: null, deleteOnArchive: false },
    ...over,
  };
}

/** Klaviyo's token endpoint as the emulator behaves: each refresh token once, then invalid_grant. */
class FakeTokenEndpoint {
  readonly clientId = 'app-client-id';
  next = 100;
  calls: string[] = [];
  readonly used = new Set<string>();
  revoked = false;
  constructor(private readonly now: () => number) {}
  async refresh(refreshToken: Secret): Promise<KlaviyoTokens> {
    this.calls.push(refreshToken.reveal());
    await new Promise((r) => setTimeout(r, 5));
    if (this.revoked || this.used.has(refreshToken.reveal()))
      throw new OAuthTokenError(
        'Klaviyo /oauth/token (token refresh) answered 400 invalid_grant',
        400,
        'invalid_grant',
        true,
      );
    this.used.add(refreshToken.reveal());
    const n = this.next++;
    return {
      accessToken: new Secret(`kat_${n}`),
      refreshToken: new Secret(`krt_${n}`),
      expiresAt: this.now() + HOUR,
      scopes: ['events:write'],
    };
  }
}

/** The Klaviyo API: 200 for an access token it knows and that is not expired, else 401. */
function fakeApi(valid: Set<string>) {
  const seen: string[] = [];
  const fetchFn = (async (_url: unknown, init?: RequestInit) => {
    const auth = new Headers(init?.headers).get('authorization') ?? '';
    seen.push(auth);
    const token = auth.replace(/^Bearer /, '');
    return new Response(valid.has(token) ? '{}' : '{"errors":[{"status":401}]}', {
      status: valid.has(token) ? 200 : 401,
    });
  }) as typeof fetch;
  return { fetchFn, seen };
}

/** A GrantWriter that writes into the StaticConnections as the ConnectionStore would (next revision). */
function writerInto(directory: StaticConnections, log: string[]): GrantWriter {
  return {
    rotated: async (c, g) => {
      log.push(`rotated ${c.id} ${g.refreshToken.reveal()}`);
      const current = directory.get(c.id)!;
      directory.put({ ...current, revision: current.revision + 1, klaviyo: { ...current.klaviyo, oauth: g } });
    },
    needsReauth: async (c) => {
      log.push(`needs_reauth ${c.id}`);
      const current = directory.get(c.id)!;
      directory.put({ ...current, revision: current.revision + 1, status: 'needs_reauth' });
    },
  };
}

describe('KlaviyoTokenSources (one token source per OAuth connection)', () => {
  let clock: number;
  const now = () => clock;
  beforeEach(() => {
    clock = 1_800_000_000_000;
  });

  it('sends the Bearer of the grant, refreshes before expiry and stores the rotated grant first', async () => {
    const directory = new StaticConnections([oauthConnection('shop', grant(1, clock + HOUR))]);
    const endpoint = new FakeTokenEndpoint(now);
    const log: string[] = [];
    const sources = new KlaviyoTokenSources({
      directory,
      client: endpoint,
      writer: writerInto(directory, log),
      refreshBeforeMs: 5 * 60_000,
      adoptWaitMs: 0,
      now,
    });
    const api = fakeApi(new Set(['kat_1', 'kat_100']));
    const f = sources.fetchFor('shop', api.fetchFn);
    expect((await f('http://klaviyo.test/api/events', { headers: { Authorization: 'x' } })).status).toBe(200);
    expect(api.seen).toEqual(['Bearer kat_1']);
    clock += HOUR - 60_000; // inside the 5 min margin
    const answers = await Promise.all([f('http://k/1'), f('http://k/2'), f('http://k/3')]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(endpoint.calls).toEqual(['krt_1']); // one refresh for concurrent requests
    expect(log).toEqual(['rotated shop krt_100']);
    expect(api.seen.slice(1)).toEqual(['Bearer kat_100', 'Bearer kat_100', 'Bearer kat_100']);
    // our own rotation read back from the directory changes nothing
    expect(directory.get('shop')!.revision).toBe(2);
    expect(sources.source('shop')!.tokens.refreshToken.reveal()).toBe('krt_100');
    expect(sources.currentAuthorization('shop')).toBe('Bearer kat_100');
    sources.stop();
  });

  it('a 401 (token expired early) refreshes once and sends the request again: the caller sees 200', async () => {
    const directory = new StaticConnections([oauthConnection('shop', grant(1, clock + HOUR))]);
    const endpoint = new FakeTokenEndpoint(now);
    const sources = new KlaviyoTokenSources({
      directory,
      client: endpoint,
      writer: writerInto(directory, []),
      refreshBeforeMs: 60_000,
      adoptWaitMs: 0,
      now,
    });
    const api = fakeApi(new Set(['kat_100'])); // kat_1 no longer accepted
    const f = sources.fetchFor('shop', api.fetchFn);
    const answers = await Promise.all([f('http://k/1'), f('http://k/2')]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    expect(endpoint.calls).toEqual(['krt_1']);
    expect(api.seen).toEqual(['Bearer kat_1', 'Bearer kat_1', 'Bearer kat_100', 'Bearer kat_100']);
    sources.stop();
  });

  it('a refresh refused because another replica rotated the grant adopts the one the directory brings, without needs_reauth', async () => {
    const directory = new StaticConnections([oauthConnection('shop', grant(1, Date.now() + 1000))]);
    const endpoint = new FakeTokenEndpoint(Date.now);
    const log: string[] = [];
    const sources = new KlaviyoTokenSources({
      directory,
      client: endpoint,
      writer: writerInto(directory, log),
      refreshBeforeMs: 60_000,
      adoptWaitMs: 2000,
      pollMs: 10,
      now: Date.now,
    });
    // another replica already used krt_1; its record reaches this directory 100 ms after our refusal
    endpoint.used.add('krt_1');
    const api = fakeApi(new Set(['kat_7']));
    setTimeout(() => {
      const c = directory.get('shop')!;
      directory.put({ ...c, revision: 2, klaviyo: { ...c.klaviyo, oauth: grant(7, Date.now() + HOUR) } });
    }, 100);
    const res = await sources.fetchFor('shop', api.fetchFn)('http://k/1');
    expect(res.status).toBe(200);
    expect(api.seen).toEqual(['Bearer kat_7']);
    expect(sources.adopted.get('shop')).toBe(1);
    expect(log).toEqual([]); // nothing written: no rotation of ours, no needs_reauth
    expect(sources.needsReauthorization('shop')).toBe(false);
    sources.stop();
  });

  it('a grant refused for good (nothing newer) is needs_reauth: written once, requests answered 401 here, until a new grant is put', async () => {
    const directory = new StaticConnections([
      oauthConnection('shop', grant(1, clock + 1000)),
      oauthConnection('other', grant(2, clock + HOUR)),
    ]);
    const endpoint = new FakeTokenEndpoint(now);
    endpoint.used.add('krt_1'); // revoked, as the user removing the app does
    const log: string[] = [];
    const sources = new KlaviyoTokenSources({
      directory,
      client: endpoint,
      writer: writerInto(directory, log),
      refreshBeforeMs: 60_000,
      adoptWaitMs: 50,
      pollMs: 10,
      now,
    });
    const api = fakeApi(new Set(['kat_2', 'kat_9']));
    const f = sources.fetchFor('shop', api.fetchFn);
    const first = await f('http://k/1');
    expect(first.status).toBe(401);
    expect(((await first.json()) as { errors: Array<{ code: string }> }).errors[0].code).toBe(NEEDS_REAUTH_CODE);
    expect(api.seen).toEqual([]); // never reached Klaviyo with an expired token
    expect((await f('http://k/2')).status).toBe(401);
    expect(endpoint.calls).toEqual(['krt_1']); // no refresh again while it waits for the user
    expect(log).toEqual(['needs_reauth shop']);
    expect(directory.get('shop')!.status).toBe('needs_reauth');
    expect(sources.needsReauthorization('shop')).toBe(true);
    // the other connection is not touched
    expect((await sources.fetchFor('other', api.fetchFn)('http://k/3')).status).toBe(200);

    // the user connects again: a new grant, status active
    const c = directory.get('shop')!;
    directory.put({
      ...c,
      revision: c.revision + 1,
      status: 'active',
      klaviyo: { ...c.klaviyo, oauth: grant(9, clock + HOUR) },
    });
    expect(sources.needsReauthorization('shop')).toBe(false);
    expect((await f('http://k/4')).status).toBe(200);
    expect(api.seen).toEqual(['Bearer kat_2', 'Bearer kat_9']);
    sources.stop();
  });

  it('a connection with a private key goes with its own header, untouched', async () => {
    const c = oauthConnection('pk', grant(1, clock + HOUR));
    const directory = new StaticConnections([
      { ...c, klaviyo: { ...c.klaviyo, auth: 'private_key', privateKey: new Secret('pk_x'), oauth: null } },
    ]);
    const sources = new KlaviyoTokenSources({
      directory,
      client: null,
      writer: null,
      refreshBeforeMs: 0,
      adoptWaitMs: 0,
    });
    const api = fakeApi(new Set());
    await sources.fetchFor('pk', api.fetchFn)('http://k/1', { headers: { Authorization: 'Klaviyo-API-Key pk_x' } });
    expect(api.seen).toEqual(['Klaviyo-API-Key pk_x']);
    expect(sources.source('pk')).toBeUndefined();
    sources.stop();
  });

  it('the sink refuses to start with an OAuth connection and no KLAVIYO_OAUTH_CLIENT_ID/SECRET, naming the variable', () => {
    const env = {
      KAFKA_BROKERS: '127.0.0.1:9092',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
      KLAVIYO_API_KEY: 'pk_x',
    };
    const oauth = new StaticConnections([oauthConnection('shop', grant(1, clock + HOUR))]);
    expect(() => createTokenSources(loadConfig(env, 'sink'), oauth, null)).toThrow(
      /KLAVIYO_OAUTH_CLIENT_ID is required by the sink: connection\(s\) shop use Klaviyo OAuth/,
    );
    expect(() =>
      createTokenSources(loadConfig({ ...env, KLAVIYO_OAUTH_CLIENT_ID: 'app-client-id' }, 'sink'), oauth, null),
    ).toThrow(/KLAVIYO_OAUTH_CLIENT_SECRET is required/);
    // not needed without an OAuth connection
    expect(() => createTokenSources(loadConfig(env, 'sink'), new StaticConnections([]), null).stop()).not.toThrow();
    const ok = createTokenSources(
      loadConfig(
        { ...env, KLAVIYO_OAUTH_CLIENT_ID: 'app-client-id', KLAVIYO_OAUTH_CLIENT_SECRET: 's3cret-0123456789' },
        'sink',
      ),
      oauth,
      null,
    );
    expect(ok.currentAuthorization('shop')).toBe('Bearer kat_1');
    ok.stop();
  });
});
