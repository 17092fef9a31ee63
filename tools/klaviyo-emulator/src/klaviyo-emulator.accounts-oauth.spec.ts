import { createHash, randomBytes } from 'node:crypto';
import { klaviyoContract, OpenApiValidator } from '@iks/contracts';
import { KLAVIYO_REVISION } from '@iks/domain';
import { startKlaviyoEmulator, type KlaviyoEmulator, type KlaviyoEmulatorOptions } from './klaviyo-emulator.server';

/** A whole minute, so fixed rate-limit windows are exact. */
const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const KEY_A = 'pk_aaaaaaaaaaaaaaaaaaaa';
const KEY_A2 = 'pk_aaaaaaaaaaaaaaaaaaa2';
const KEY_B = 'pk_bbbbbbbbbbbbbbbbbbbb';
const DEFAULT_KEY = 'pk_default_key_0001';
const REDIRECT = 'http://127.0.0.1:9/callback';
const CLIENT_ID = 'intercom-sync-client';
const CLIENT_SECRET = 'intercom-sync-secret-0123456789';
const SCOPES = 'accounts:read events:write metrics:read profiles:write';

interface Res {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
  body: any;
}

async function http(
  em: KlaviyoEmulator,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<Res> {
  const r = await fetch(em.url + path, { method, headers: init.headers, body: init.body, redirect: 'manual' });
  const text = await r.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: r.status, headers: r.headers, text, body };
}

const keyAuth = (key: string) => `Klaviyo-API-Key ${key}`;
const bearer = (token: string) => `Bearer ${token}`;

function api(em: KlaviyoEmulator, method: string, path: string, authorization: string, body?: unknown): Promise<Res> {
  return http(em, method, path, {
    headers: {
      Authorization: authorization,
      revision: KLAVIYO_REVISION,
      'Content-Type': 'application/vnd.api+json',
      Accept: 'application/vnd.api+json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function eventBody(email: string, metric: string, uniqueId: string) {
  return {
    data: {
      type: 'event',
      attributes: {
        properties: { conversation_id: '1' },
        metric: { data: { type: 'metric', attributes: { name: metric } } },
        profile: { data: { type: 'profile', attributes: { email } } },
        unique_id: uniqueId,
      },
    },
  };
}

function bulkBody(email: string, uniqueId: string) {
  return {
    data: {
      type: 'event-bulk-create-job',
      attributes: {
        'events-bulk-create': {
          data: [
            {
              type: 'event-bulk-create',
              attributes: {
                profile: { data: { type: 'profile', attributes: { email } } },
                events: {
                  data: [
                    {
                      type: 'event',
                      attributes: {
                        properties: {},
                        metric: { data: { type: 'metric', attributes: { name: 'Conversation Created' } } },
                        unique_id: uniqueId,
                      },
                    },
                  ],
                },
              },
            },
          ],
        },
      },
    },
  };
}

/** The contracts' `4XX` answers are `$ref`s to components.responses.ClientError: validate against that schema. */
function expectClientError(operation: string, res: Res, status: number, code: string): void {
  expect(res.status).toBe(status);
  const doc = structuredClone(klaviyoContract(operation).document);
  doc.components.schemas.ClientError = doc.components.responses.ClientError.content['application/vnd.api+json'].schema;
  expect(
    new OpenApiValidator(doc, `${operation}-client-error`).validateComponent('ClientError', res.body).errors,
  ).toEqual([]);
  expect(res.body.errors[0]).toEqual(expect.objectContaining({ status, code }));
}

function expectContract(operation: string, path: string, res: Res): void {
  expect(res.status).toBe(200);
  expect(klaviyoContract(operation).validateResponseBody('get', path, 200, res.body).errors).toEqual([]);
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeQuery(over: Record<string, string | undefined> = {}, challenge = pkce().challenge): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT,
    scope: SCOPES,
    state: 'state-from-the-app-123',
    code_challenge_method: 'S256',
    code_challenge: challenge,
    ...over,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return q.toString();
}

const basic = (id = CLIENT_ID, secret = CLIENT_SECRET) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function form(
  em: KlaviyoEmulator,
  path: string,
  fields: Record<string, string>,
  authorization: string | null = basic(),
): Promise<Res> {
  return http(em, 'POST', path, {
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(authorization ? { Authorization: authorization } : {}),
    },
    body: new URLSearchParams(fields).toString(),
  });
}

/** A user clicking through the authorize page with a plain HTTP client: GET the page, pick the account, Allow. */
async function clickThrough(em: KlaviyoEmulator, accountId: string, query: string, decision = 'allow'): Promise<URL> {
  const page = await http(em, 'GET', `/oauth/authorize?${query}`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  const requestId = /name="request_id" value="([^"]+)"/.exec(page.text)?.[1];
  expect(requestId).toBeDefined();
  expect(page.text).toContain(`value="${accountId}"`);
  const answer = await http(em, 'POST', '/oauth/authorize', {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: em.url },
    body: new URLSearchParams({ request_id: requestId!, account_id: accountId, decision }).toString(),
  });
  expect(answer.status).toBe(302);
  return new URL(answer.headers.get('location')!);
}

/** The whole code flow for `accountId`: the tokens. */
async function install(
  em: KlaviyoEmulator,
  accountId: string,
  scope = SCOPES,
  clientId = CLIENT_ID,
  secret = CLIENT_SECRET,
): Promise<{ access_token: string; refresh_token: string; expires_in: number; scope: string }> {
  const { verifier, challenge } = pkce();
  const back = await clickThrough(em, accountId, authorizeQuery({ scope, client_id: clientId }, challenge));
  const tokens = await form(
    em,
    '/oauth/token',
    {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    },
    basic(clientId, secret),
  );
  expect(tokens.status).toBe(200);
  return tokens.body;
}

describe('Klaviyo emulator: accounts and OAuth', () => {
  let em: KlaviyoEmulator;
  let clock = T0;

  async function start(options: KlaviyoEmulatorOptions = {}): Promise<KlaviyoEmulator> {
    em = await startKlaviyoEmulator({
      now: () => clock,
      apiKeys: [DEFAULT_KEY],
      accounts: [
        { id: 'AcctAA', name: 'Brand A', privateKeys: [KEY_A, KEY_A2] },
        { id: 'AcctBB', name: 'Brand B', privateKeys: [KEY_B] },
      ],
      oauthApps: [
        {
          name: 'Intercom',
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          redirectUris: [REDIRECT],
          scopes: SCOPES.split(' '),
          category: 'Customer Service',
        },
      ],
      ...options,
    });
    return em;
  }

  beforeEach(() => {
    clock = T0;
  });
  afterEach(async () => {
    await em?.close();
  });

  describe('accounts', () => {
    it('keeps each account to itself: a key writes and reads only its own account', async () => {
      await start();
      expect(
        (await api(em, 'POST', '/api/events', keyAuth(KEY_A), eventBody('a@example.com', 'Conversation Created', 'u1')))
          .status,
      ).toBe(202);
      expect(em.account('AcctAA').store.events.map((e) => e.unique_id)).toEqual(['u1']);
      expect(em.account('AcctBB').store.events).toHaveLength(0);
      expect(em.store.events).toHaveLength(0);

      const accountsA = await api(em, 'GET', '/api/accounts', keyAuth(KEY_A));
      expectContract('get_accounts', '/api/accounts', accountsA);
      expect(accountsA.body.data.map((a: { id: string }) => a.id)).toEqual(['AcctAA']);
      expect(accountsA.body.data[0].attributes.public_api_key).toBe('AcctAA');
      expect(accountsA.body.data[0].attributes.contact_information.organization_name).toBe('Brand A');
      expect((await api(em, 'GET', '/api/accounts', keyAuth(KEY_B))).body.data[0].id).toBe('AcctBB');
      expect((await api(em, 'GET', '/api/accounts', keyAuth(DEFAULT_KEY))).body.data[0].id).toBe('EmuDef');

      // B's key does not see A's metric, not even by its id.
      const metricId = em.account('AcctAA').store.metrics()[0].id;
      expectContract(
        'get_metric',
        '/api/metrics/{id}',
        await api(em, 'GET', `/api/metrics/${metricId}`, keyAuth(KEY_A)),
      );
      expectClientError(
        'get_metric',
        await api(em, 'GET', `/api/metrics/${metricId}`, keyAuth(KEY_B)),
        404,
        'not_found',
      );
      expect((await api(em, 'GET', '/api/metrics', keyAuth(KEY_B))).body.data).toEqual([]);

      // A key no account holds is refused once the default account lists its keys.
      expectClientError(
        'get_accounts',
        await api(em, 'GET', '/api/accounts', keyAuth('pk_nobodys_key_123')),
        401,
        'authentication_failed',
      );
    });

    it('gives each account its own quota, shared by its private keys (Klaviyo: per account)', async () => {
      await start();
      for (let i = 0; i < 10; i++)
        expect(
          (
            await api(
              em,
              'POST',
              '/api/event-bulk-create-jobs',
              keyAuth(i % 2 ? KEY_A : KEY_A2),
              bulkBody('a@example.com', `a${i}`),
            )
          ).status,
        ).toBe(202);
      expectClientError(
        'bulk_create_events',
        await api(em, 'POST', '/api/event-bulk-create-jobs', keyAuth(KEY_A2), bulkBody('a@example.com', 'a10')),
        429,
        'throttled',
      );
      expect(
        (await api(em, 'POST', '/api/event-bulk-create-jobs', keyAuth(KEY_B), bulkBody('b@example.com', 'b0'))).status,
      ).toBe(202);
      expect(em.account('AcctAA').store.throttled).toBe(1);
      expect(em.account('AcctBB').store.throttled).toBe(0);
    });

    it('creates, lists and reads accounts through the admin API', async () => {
      await start();
      const created = await http(em, 'POST', '/__emulator/accounts', {
        body: JSON.stringify({ id: 'AcctCC', name: 'Brand C', limits: { get_accounts: { burst: 5 } } }),
      });
      expect(created.status).toBe(201);
      const [key] = created.body.private_keys;
      expect(key).toMatch(/^pk_[0-9a-f]{34}$/);
      expect((await http(em, 'POST', '/__emulator/accounts', { body: JSON.stringify({ id: 'AcctCC' }) })).status).toBe(
        400,
      );
      expect(
        (await http(em, 'POST', '/__emulator/accounts', { body: JSON.stringify({ private_keys: [KEY_A] }) })).body
          .errors[0].detail,
      ).toMatch(/another account/);
      expect(
        (await http(em, 'POST', '/__emulator/accounts', { body: JSON.stringify({ private_keys: ['not-a-key'] }) }))
          .status,
      ).toBe(400);

      expect(
        (await api(em, 'POST', '/api/events', keyAuth(key), eventBody('c@example.com', 'Ticket Created', 'c1'))).status,
      ).toBe(202);
      const list = await http(em, 'GET', '/__emulator/accounts');
      expect(list.body.data.map((a: { id: string }) => a.id)).toEqual(['EmuDef', 'AcctAA', 'AcctBB', 'AcctCC']);
      // Keys are listed by their last characters only.
      expect(JSON.stringify(list.body)).not.toContain(KEY_A);
      expect(
        (await http(em, 'GET', '/__emulator/accounts/AcctCC/events')).body.data.map(
          (e: { unique_id: string }) => e.unique_id,
        ),
      ).toEqual(['c1']);
      expect((await http(em, 'GET', '/__emulator/accounts/AcctCC/stats')).body).toEqual(
        expect.objectContaining({ account: 'AcctCC', eventsStored: 1 }),
      );
      expect((await http(em, 'GET', '/__emulator/accounts/AcctAA/events')).body.data).toEqual([]);
      expect((await http(em, 'GET', '/__emulator/accounts/Nobody/events')).status).toBe(404);
      // Its own limits: get_accounts' burst is 5 there, 1 elsewhere.
      for (let i = 0; i < 5; i++) expect((await api(em, 'GET', '/api/accounts', keyAuth(key))).status).toBe(200);
      expect((await api(em, 'GET', '/api/accounts', keyAuth(key))).status).toBe(429);
    });

    it('keeps the default single account as before when no account is configured', async () => {
      em = await startKlaviyoEmulator({ now: () => clock });
      expect(
        (
          await api(
            em,
            'POST',
            '/api/events',
            keyAuth('any-key-at-all'),
            eventBody('d@example.com', 'Conversation Created', 'd1'),
          )
        ).status,
      ).toBe(202);
      expect(em.store.events).toHaveLength(1);
      expect(em.store.metric('Conversation Created')?.integration.name).toBe('API');
    });
  });

  describe('OAuth', () => {
    it('runs the code flow: authorize page, state passed through, PKCE, tokens, Bearer calls in the chosen account', async () => {
      await start();
      const { verifier, challenge } = pkce();
      const back = await clickThrough(em, 'AcctBB', authorizeQuery({}, challenge));
      expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
      expect(back.searchParams.get('state')).toBe('state-from-the-app-123');
      const code = back.searchParams.get('code')!;
      expect(code).toBeTruthy();

      const tokens = await form(em, '/oauth/token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      });
      expect(tokens.status).toBe(200);
      expect(tokens.headers.get('cache-control')).toBe('no-store');
      expect(tokens.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: expect.any(String),
        scope: SCOPES,
      });

      const accounts = await api(em, 'GET', '/api/accounts', bearer(tokens.body.access_token));
      expectContract('get_accounts', '/api/accounts', accounts);
      expect(accounts.body.data[0].id).toBe('AcctBB');
      expect(
        (
          await api(
            em,
            'POST',
            '/api/events',
            bearer(tokens.body.access_token),
            eventBody('b@example.com', 'Conversation Created', 'o1'),
          )
        ).status,
      ).toBe(202);
      expect(em.account('AcctBB').store.events.map((e) => [e.unique_id, e.integration, e.apiKey])).toEqual([
        ['o1', 'Intercom', `oauth:${CLIENT_ID}`],
      ]);
      expect(em.account('AcctAA').store.events).toHaveLength(0);
      // No token is kept in what the emulator logs.
      expect(JSON.stringify(em.account('AcctBB').store.requestLog())).not.toContain(tokens.body.access_token);
    });

    it('refuses a PKCE verifier that does not match, and a replayed code (revoking what it gave)', async () => {
      await start();
      const { verifier, challenge } = pkce();
      const code = (await clickThrough(em, 'AcctAA', authorizeQuery({}, challenge))).searchParams.get('code')!;
      const wrong = await form(em, '/oauth/token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: pkce().verifier,
      });
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual({
        error: 'invalid_grant',
        error_description: expect.stringMatching(/code verifier/i),
      });
      expect(
        (await form(em, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT })).body.error,
      ).toBe('invalid_request');
      expect(
        (
          await form(em, '/oauth/token', {
            grant_type: 'authorization_code',
            code,
            redirect_uri: 'http://127.0.0.1:9/other',
            code_verifier: verifier,
          })
        ).body.error,
      ).toBe('invalid_grant');

      const ok = await form(em, '/oauth/token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      });
      expect(ok.status).toBe(200);
      const replay = await form(em, '/oauth/token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      });
      expect(replay.status).toBe(400);
      expect(replay.body.error).toBe('invalid_grant');
      expectClientError(
        'get_accounts',
        await api(em, 'GET', '/api/accounts', bearer(ok.body.access_token)),
        401,
        'authentication_failed',
      );
      expect(
        (await form(em, '/oauth/token', { grant_type: 'refresh_token', refresh_token: ok.body.refresh_token })).body
          .error,
      ).toBe('invalid_grant');
    });

    it('refuses a code past its lifetime', async () => {
      await start({ oauth: { codeTtlMs: 60_000 } });
      const { verifier, challenge } = pkce();
      const code = (await clickThrough(em, 'AcctAA', authorizeQuery({}, challenge))).searchParams.get('code')!;
      clock += 60_000;
      const late = await form(em, '/oauth/token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      });
      expect(late.body).toEqual({ error: 'invalid_grant', error_description: expect.stringMatching(/expired/) });
    });

    it('answers a bad authorize request with a clear page, no redirect, nothing stored', async () => {
      await start();
      const cases: [Record<string, string | undefined>, RegExp][] = [
        [{ redirect_uri: 'http://127.0.0.1:9/not-registered' }, /not one of the redirect URIs registered/],
        [{ redirect_uri: undefined }, /redirect_uri parameter is required/],
        [{ client_id: 'unknown-client-id' }, /No OAuth app has this client_id/],
        [{ code_challenge_method: 'plain' }, /S256/],
        [{ code_challenge: undefined }, /code_challenge must be/],
        [{ code_challenge: 'too-short' }, /code_challenge must be/],
        [{ scope: 'events:write lists:write' }, /not registered for: lists:write/],
        [{ scope: 'events:write everything:write' }, /Unknown scope: everything:write/],
        [{ scope: undefined }, /scope parameter/],
        [{ state: undefined }, /state parameter is required/],
        [{ response_type: 'token' }, /response_type must be &quot;code&quot;/],
      ];
      for (const [over, message] of cases) {
        const res = await http(em, 'GET', `/oauth/authorize?${authorizeQuery(over)}`);
        expect({ over, status: res.status, location: res.headers.get('location') }).toEqual({
          over,
          status: 400,
          location: null,
        });
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        expect(res.text).toMatch(message);
        expect(res.text).not.toContain('request_id');
      }
      const twice = await http(
        em,
        'GET',
        `/oauth/authorize?${authorizeQuery()}&redirect_uri=${encodeURIComponent('https://elsewhere.example/cb')}`,
      );
      expect(twice.status).toBe(400);
      expect(twice.text).toMatch(/redirect_uri appears more than once/);
      // An unregistered redirect URI is shown escaped, never rendered as markup.
      const evil = await http(
        em,
        'GET',
        `/oauth/authorize?${authorizeQuery({ redirect_uri: 'https://x.example/"><script>alert(1)</script>' })}`,
      );
      expect(evil.text).not.toContain('<script>');
      expect(em.oauthGrants.list()).toEqual([]);
    });

    it('sends access_denied with the state when the user denies, and refuses a cross-site or replayed form', async () => {
      await start();
      const denied = await clickThrough(em, 'AcctAA', authorizeQuery(), 'deny');
      expect(denied.searchParams.get('error')).toBe('access_denied');
      expect(denied.searchParams.get('state')).toBe('state-from-the-app-123');
      expect(denied.searchParams.has('code')).toBe(false);

      const page = await http(em, 'GET', `/oauth/authorize?${authorizeQuery()}`);
      const requestId = /name="request_id" value="([^"]+)"/.exec(page.text)![1];
      const post = (origin: string) =>
        http(em, 'POST', '/oauth/authorize', {
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin },
          body: new URLSearchParams({ request_id: requestId, account_id: 'AcctAA', decision: 'allow' }).toString(),
        });
      expect((await post('https://evil.example')).status).toBe(403);
      expect((await post(em.url)).status).toBe(302);
      expect((await post(em.url)).status).toBe(400);
    });

    it('authenticates the client with HTTP Basic only', async () => {
      await start();
      const fields = { grant_type: 'refresh_token', refresh_token: 'whatever' };
      const wrongSecret = await form(em, '/oauth/token', fields, basic(CLIENT_ID, 'not-the-secret-at-all'));
      expect(wrongSecret.status).toBe(401);
      expect(wrongSecret.body.error).toBe('invalid_client');
      expect(wrongSecret.headers.get('www-authenticate')).toMatch(/^Basic/);
      const inBody = await form(
        em,
        '/oauth/token',
        { ...fields, client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
        null,
      );
      expect(inBody.status).toBe(401);
      expect(inBody.body.error_description).toMatch(/Authorization: Basic/);
      const json = await http(em, 'POST', '/oauth/token', {
        headers: { Authorization: basic(), 'Content-Type': 'application/json' },
        body: JSON.stringify(fields),
      });
      expect(json.body.error).toBe('invalid_request');
      expect((await form(em, '/oauth/token', { grant_type: 'client_credentials' })).body.error).toBe(
        'unsupported_grant_type',
      );
    });

    it('rotates refresh tokens: the one used is refused afterwards', async () => {
      await start();
      const first = await install(em, 'AcctAA');
      const second = await form(em, '/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
      });
      expect(second.status).toBe(200);
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      expect(second.body.access_token).not.toBe(first.access_token);
      const reused = await form(em, '/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
      });
      expect(reused.body).toEqual({ error: 'invalid_grant', error_description: expect.stringMatching(/already used/) });
      const third = await form(em, '/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: second.body.refresh_token,
      });
      expect(third.status).toBe(200);
      expect((await api(em, 'GET', '/api/accounts', bearer(third.body.access_token))).body.data[0].id).toBe('AcctAA');
      // A refresh may narrow the scopes, never widen them.
      const narrow = await form(em, '/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: third.body.refresh_token,
        scope: 'events:write',
      });
      expect(narrow.body.scope).toBe('events:write');
      expect(
        (
          await form(em, '/oauth/token', {
            grant_type: 'refresh_token',
            refresh_token: narrow.body.refresh_token,
            scope: 'lists:write',
          })
        ).body.error,
      ).toBe('invalid_scope');
    });

    it('revokes: a revoked refresh token takes its access tokens with it', async () => {
      await start();
      const t = await install(em, 'AcctAA');
      expect((await api(em, 'GET', '/api/accounts', bearer(t.access_token))).status).toBe(200);
      // Another client cannot revoke this app's token.
      await http(em, 'POST', '/__emulator/oauth-apps', {
        body: JSON.stringify({
          name: 'Other',
          client_id: 'other-client-id',
          client_secret: 'other-client-secret-123',
          redirect_uris: [REDIRECT],
          scopes: ['events:write'],
        }),
      });
      expect(
        (
          await form(
            em,
            '/oauth/revoke',
            { token: t.refresh_token },
            basic('other-client-id', 'other-client-secret-123'),
          )
        ).status,
      ).toBe(400);

      const revoked = await form(em, '/oauth/revoke', { token: t.refresh_token, token_type_hint: 'refresh_token' });
      expect(revoked.status).toBe(200);
      clock += 1000;
      const after = await api(em, 'GET', '/api/accounts', bearer(t.access_token));
      expectClientError('get_accounts', after, 401, 'authentication_failed');
      expect(after.body.errors[0].detail).toMatch(/revoked/);
      expect(
        (await form(em, '/oauth/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token })).body.error,
      ).toBe('invalid_grant');
      // RFC 7009: an unknown token is answered 200.
      expect((await form(em, '/oauth/revoke', { token: 'never-issued' })).status).toBe(200);
    });

    it('expires access tokens (401) after their lifetime; a refresh gives a working one', async () => {
      await start();
      const t = await install(em, 'AcctAA');
      clock += 3600 * 1000 - 1;
      expect((await api(em, 'GET', '/api/metrics', bearer(t.access_token))).status).toBe(200);
      clock += 1;
      const expired = await api(em, 'GET', '/api/metrics', bearer(t.access_token));
      expectClientError('get_metrics', expired, 401, 'authentication_failed');
      expect(expired.body.errors[0].detail).toMatch(/expired/);
      const fresh = await form(em, '/oauth/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token });
      expect((await api(em, 'GET', '/api/metrics', bearer(fresh.body.access_token))).status).toBe(200);
    });

    it('takes the access-token lifetime from the options, and expires tokens on demand through the admin API', async () => {
      await start({ oauth: { accessTokenTtlMs: 60_000 } });
      const t = await install(em, 'AcctAA');
      expect(t.expires_in).toBe(60);
      const other = await install(em, 'AcctBB');
      expect(
        (
          await http(em, 'POST', '/__emulator/oauth/expire-access-tokens', {
            body: JSON.stringify({ account_id: 'AcctAA' }),
          })
        ).body,
      ).toEqual({ expired: 1 });
      expect((await api(em, 'GET', '/api/metrics', bearer(t.access_token))).status).toBe(401);
      expect((await api(em, 'GET', '/api/metrics', bearer(other.access_token))).status).toBe(200);
    });

    it('enforces the granted scopes: 403 permission_denied for a missing one', async () => {
      await start();
      const t = await install(em, 'AcctAA', 'events:write');
      expect(
        (
          await api(
            em,
            'POST',
            '/api/events',
            bearer(t.access_token),
            eventBody('a@example.com', 'Conversation Created', 's1'),
          )
        ).status,
      ).toBe(202);
      const denied = await api(em, 'GET', '/api/metrics', bearer(t.access_token));
      expectClientError('get_metrics', denied, 403, 'permission_denied');
      expect(denied.body.errors[0].detail).toMatch(/metrics:read/);
      expect((await api(em, 'GET', '/api/accounts', bearer(t.access_token))).status).toBe(403);
      // A private key has every scope.
      expect((await api(em, 'GET', '/api/metrics', keyAuth(KEY_A))).status).toBe(200);
    });

    it('gives an OAuth app its own quota per account, apart from the private-key quota and from other apps', async () => {
      await start();
      const t = await install(em, 'AcctAA');
      for (let i = 0; i < 10; i++)
        expect(
          (await api(em, 'POST', '/api/event-bulk-create-jobs', keyAuth(KEY_A), bulkBody('a@example.com', `k${i}`)))
            .status,
        ).toBe(202);
      expect(
        (await api(em, 'POST', '/api/event-bulk-create-jobs', keyAuth(KEY_A), bulkBody('a@example.com', 'k10'))).status,
      ).toBe(429);
      for (let i = 0; i < 10; i++)
        expect(
          (
            await api(
              em,
              'POST',
              '/api/event-bulk-create-jobs',
              bearer(t.access_token),
              bulkBody('a@example.com', `o${i}`),
            )
          ).status,
        ).toBe(202);
      const throttled = await api(
        em,
        'POST',
        '/api/event-bulk-create-jobs',
        bearer(t.access_token),
        bulkBody('a@example.com', 'o10'),
      );
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('retry-after')).toBe('1');
      // The same app in another account has its own quota there.
      const tb = await install(em, 'AcctBB');
      expect(
        (await api(em, 'POST', '/api/event-bulk-create-jobs', bearer(tb.access_token), bulkBody('b@example.com', 'o0')))
          .status,
      ).toBe(202);
    });
  });

  describe('metrics and their integration', () => {
    it('records the integration that created each metric and filters by integration name and category', async () => {
      await start();
      const t = await install(em, 'AcctAA');
      expect(
        (
          await api(
            em,
            'POST',
            '/api/events',
            bearer(t.access_token),
            eventBody('a@example.com', 'Conversation Created', 'i1'),
          )
        ).status,
      ).toBe(202);
      expect(
        (
          await api(
            em,
            'POST',
            '/api/events',
            bearer(t.access_token),
            eventBody('a@example.com', 'Ticket Created', 'i2'),
          )
        ).status,
      ).toBe(202);
      // The same name sent with a private key is another metric: an API metric.
      expect(
        (await api(em, 'POST', '/api/events', keyAuth(KEY_A), eventBody('a@example.com', 'Conversation Created', 'i1')))
          .status,
      ).toBe(202);
      expect(em.account('AcctAA').store.events).toHaveLength(3);

      const all = await api(em, 'GET', '/api/metrics', bearer(t.access_token));
      expectContract('get_metrics', '/api/metrics', all);
      expect(all.body.data).toHaveLength(3);
      const view = (res: Res) =>
        res.body.data
          .map((m: { attributes: { name: string; integration: { name: string } } }) => [
            m.attributes.name,
            m.attributes.integration.name,
          ])
          .sort();
      const intercom = await api(
        em,
        'GET',
        `/api/metrics?filter=${encodeURIComponent('equals(integration.name,"Intercom")')}`,
        keyAuth(KEY_A),
      );
      expectContract('get_metrics', '/api/metrics', intercom);
      expect(view(intercom)).toEqual([
        ['Conversation Created', 'Intercom'],
        ['Ticket Created', 'Intercom'],
      ]);
      expect(intercom.body.data[0].attributes.integration).toEqual({
        object: 'integration',
        id: expect.stringMatching(/^.{6}$/),
        key: 'intercom',
        name: 'Intercom',
        category: 'Customer Service',
      });
      const apiMetrics = await api(
        em,
        'GET',
        `/api/metrics?filter=${encodeURIComponent("equals(integration.name,'API')")}`,
        keyAuth(KEY_A),
      );
      expect(view(apiMetrics)).toEqual([['Conversation Created', 'API']]);
      const byCategory = await api(
        em,
        'GET',
        `/api/metrics?filter=${encodeURIComponent('and(equals(integration.category,"Customer Service"),equals(integration.name,"Intercom"))')}`,
        keyAuth(KEY_A),
      );
      expect(view(byCategory)).toHaveLength(2);
      expect(
        (
          await api(
            em,
            'GET',
            `/api/metrics?filter=${encodeURIComponent('equals(integration.name,"Shopify")')}`,
            keyAuth(KEY_A),
          )
        ).body.data,
      ).toEqual([]);

      const one = await api(
        em,
        'GET',
        `/api/metrics/${intercom.body.data[0].id}?fields[metric]=name,integration`,
        keyAuth(KEY_A),
      );
      expectContract('get_metric', '/api/metrics/{id}', one);
      expect(Object.keys(one.body.data.attributes).sort()).toEqual(['integration', 'name']);
    });

    it('refuses unsupported filters, fields and parameters with 400, as Klaviyo does', async () => {
      await start();
      const bad = async (query: string, parameter: string) => {
        const res = await api(em, 'GET', `/api/metrics?${query}`, keyAuth(KEY_A));
        expectClientError('get_metrics', res, 400, 'invalid');
        expect(res.body.errors[0].source).toEqual({ parameter });
      };
      await bad(`filter=${encodeURIComponent('equals(name,"Conversation Created")')}`, 'filter');
      await bad(`filter=${encodeURIComponent('contains(integration.name,"Inter")')}`, 'filter');
      await bad(`filter=${encodeURIComponent('equals(integration.name,Intercom)')}`, 'filter');
      await bad(`filter=${encodeURIComponent('equals(integration.name,"Intercom"')}`, 'filter');
      await bad('fields[metric]=name,colour', 'fields[metric]');
      await bad('page[size]=10', 'page[size]');
      await bad('page[cursor]=garbage', 'page[cursor]');
    });

    it('pages get_metrics 200 at a time with links.next', async () => {
      await start({ limits: false });
      const events = Array.from({ length: 201 }, (_, i) => eventBody('p@example.com', `Metric ${i}`, `m${i}`));
      for (const e of events) expect((await api(em, 'POST', '/api/events', keyAuth(KEY_A), e)).status).toBe(202);
      const first = await api(em, 'GET', '/api/metrics', keyAuth(KEY_A));
      expectContract('get_metrics', '/api/metrics', first);
      expect(first.body.data).toHaveLength(200);
      const next = new URL(first.body.links.next);
      const second = await api(em, 'GET', `${next.pathname}${next.search}`, keyAuth(KEY_A));
      expect(second.body.data).toHaveLength(1);
      expect(second.body.links.next).toBeUndefined();
    });
  });
});
