import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { contract as loadContract, expectValidComponent, expectValidResponse } from './__tests__/contract.helper';
import { generateDataset } from './dataset';
import { startIntercomEmulator, type IntercomEmulator } from './emulator.server';
import { buildNotification, signBody } from './webhook.sender';

const contract = loadContract();
const DEFAULT_TOKEN = 'default-token';
const DEFAULT_SECRET = 'default-secret';
const PUBLIC_APP = { clientId: 'pub-client-id', clientSecret: 'public-app-secret-0123456789' };
const WS2_TOKEN = 'token-of-ws2';
const WS3_TOKEN = 'token-of-ws3-eu';
const WS4_TOKEN = 'token-of-ws4-au';
const WS4_SECRET = 'private-secret-of-ws4';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (HTTP answer) read field by field by many assertions
  body: any;
}

async function http(
  base: string,
  method: string,
  path: string,
  init: { token?: string; json?: unknown; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { Accept: 'application/json', ...init.headers };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(base + path, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (HTTP answer) read field by field
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** A webhook endpoint that records what it received (answers 200). */
async function endpoint() {
  const received: { rawBody: string; headers: IncomingHttpHeaders }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ rawBody: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/intercom`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Intercom emulator: several workspaces (#22)', () => {
  let emu: IntercomEmulator;

  beforeAll(async () => {
    emu = await startIntercomEmulator({
      port: 0,
      dataset: generateDataset({ seed: 3, contacts: 12, conversations: 8, tickets: 6 }),
      accessToken: DEFAULT_TOKEN,
      clientSecret: DEFAULT_SECRET,
      apps: [{ ...PUBLIC_APP, name: 'Sync (public app)', redirectUris: ['https://sync.example.com/oauth/intercom'] }],
      workspaces: [
        {
          appId: 'ws2us',
          name: 'Brand Two',
          accessTokens: [WS2_TOKEN],
          app: PUBLIC_APP.clientId,
          dataset: { contacts: 7 },
        },
        { appId: 'ws3eu', name: 'Brand Three', region: 'EU', accessTokens: [WS3_TOKEN], app: PUBLIC_APP.clientId },
        {
          appId: 'ws4au',
          region: 'AU',
          accessTokens: [WS4_TOKEN],
          clientSecret: WS4_SECRET,
          rateLimit: { perWindow: 2, windowSeconds: 60 },
        },
      ],
      webhookDefaults: { retryDelayMs: 10, timeoutMs: 2000 },
    });
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  it('GET /me answers each token with its own workspace (id_code, name, region), valid against admin_with_app', async () => {
    const cases: [string, string, string, string, string][] = [
      [emu.url, DEFAULT_TOKEN, 'emu1a2b3', 'Emulator workspace', 'US'],
      [emu.url, WS2_TOKEN, 'ws2us', 'Brand Two', 'US'],
      [emu.regionUrl('EU'), WS3_TOKEN, 'ws3eu', 'Brand Three', 'EU'],
      [emu.regionUrl('AU'), WS4_TOKEN, 'ws4au', 'Workspace ws4au', 'AU'],
    ];
    for (const [base, token, idCode, name, region] of cases) {
      const me = await http(base, 'GET', '/me', { token });
      expect(me.status).toBe(200);
      expectValidResponse(contract, 'get', '/me', 200, me.body);
      expect(me.body.app).toMatchObject({ type: 'app', id_code: idCode, name, region });
    }
    expect(new Set([emu.url, emu.regionUrl('EU'), emu.regionUrl('AU')]).size).toBe(3);
  });

  it("a token sees only its workspace's contacts, conversations, tickets, admins and teams; no id is shared", async () => {
    const seen = new Map<string, Set<string>>();
    for (const [base, token, appId] of [
      [emu.url, DEFAULT_TOKEN, 'emu1a2b3'],
      [emu.url, WS2_TOKEN, 'ws2us'],
      [emu.regionUrl('EU'), WS3_TOKEN, 'ws3eu'],
    ] as const) {
      const ws = emu.workspace(appId);
      const contacts = await http(base, 'POST', '/contacts/search', {
        token,
        json: { query: { field: 'updated_at', operator: '>', value: 0 }, pagination: { per_page: 150 } },
      });
      expect(contacts.status).toBe(200);
      expectValidResponse(contract, 'post', '/contacts/search', 200, contacts.body);
      expect(contacts.body.data.map((c: { id: string }) => c.id).sort()).toEqual(
        ws.dataset.contacts.map((c) => c.id).sort(),
      );
      for (const c of contacts.body.data) expect(c.workspace_id).toBe(appId);
      const admins = await http(base, 'GET', '/admins', { token });
      const teams = await http(base, 'GET', '/teams', { token });
      expectValidResponse(contract, 'get', '/admins', 200, admins.body);
      const conv = ws.dataset.conversations[0];
      const got = await http(base, 'GET', `/conversations/${conv.id}`, { token });
      expect(got.status).toBe(200);
      expectValidComponent(contract, 'conversation', got.body);
      const ids = [
        ...contacts.body.data.map((c: { id: string }) => `contact:${c.id}`),
        ...admins.body.admins.map((a: { id: string }) => `admin:${a.id}`),
        ...teams.body.teams.map((t: { id: string }) => `team:${t.id}`),
        ...ws.dataset.conversations.map((c) => `conversation:${c.id}`),
        ...ws.dataset.tickets.map((t) => `ticket:${t.id}`),
      ];
      seen.set(appId, new Set(ids));
    }
    expect(seen.get('ws2us')!.size).toBe(7 + 5 + 3 + 40 + 20);
    const [a, b, c] = [...seen.values()];
    for (const [x, y] of [
      [a, b],
      [a, c],
      [b, c],
    ])
      expect([...x].filter((id) => y.has(id))).toEqual([]);
    // another workspace's object is not found with this token
    const other = emu.workspace('ws2us').dataset.conversations[0].id;
    expect((await http(emu.url, 'GET', `/conversations/${other}`, { token: DEFAULT_TOKEN })).status).toBe(404);
  });

  it("a workspace's token works only at its region's host (401 Access Token Invalid elsewhere)", async () => {
    const wrong = await http(emu.url, 'GET', '/me', { token: WS3_TOKEN });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({
      type: 'error.list',
      errors: [{ code: 'unauthorized', message: 'Access Token Invalid' }],
    });
    expect((await http(emu.regionUrl('EU'), 'GET', '/me', { token: DEFAULT_TOKEN })).status).toBe(401);
    expect((await http(emu.regionUrl('AU'), 'GET', '/me', { token: WS3_TOKEN })).status).toBe(401);
    expect((await http(emu.regionUrl('EU'), 'GET', '/me', { token: WS3_TOKEN })).status).toBe(200);
  });

  it('each workspace has its own rate-limit window', async () => {
    const au = emu.regionUrl('AU');
    expect((await http(au, 'GET', '/me', { token: WS4_TOKEN })).status).toBe(200);
    expect((await http(au, 'GET', '/me', { token: WS4_TOKEN })).status).toBe(200);
    const third = await http(au, 'GET', '/me', { token: WS4_TOKEN });
    expect(third.status).toBe(429);
    expect(third.headers.get('x-ratelimit-limit')).toBe('2');
    expect(third.body.errors[0].code).toBe('rate_limit_exceeded');
    const other = await http(emu.url, 'GET', '/me', { token: WS2_TOKEN });
    expect(other.status).toBe(200);
    expect(other.headers.get('x-ratelimit-limit')).toBe('10000');
  });

  it('logs each request in its workspace; faults can target one workspace', async () => {
    await http(emu.url, 'GET', '/me', { token: WS2_TOKEN });
    await http(emu.url, 'GET', '/me', { token: DEFAULT_TOKEN });
    const logged = await http(emu.url, 'GET', '/__emulator/workspaces/ws2us/requests');
    expect(logged.body.requests).toHaveLength(1);
    expect(logged.body.requests[0]).toMatchObject({ path: '/me', appId: 'ws2us', region: 'US', status: 200 });
    expect(emu.requests.map((r) => r.appId)).toEqual(['ws2us', 'emu1a2b3']);

    await http(emu.url, 'POST', '/__emulator/workspaces/ws2us/faults', { json: { status: 503, count: 1 } });
    expect((await http(emu.url, 'GET', '/me', { token: DEFAULT_TOKEN })).status).toBe(200);
    expect((await http(emu.url, 'GET', '/me', { token: WS2_TOKEN })).status).toBe(503);
    expect((await http(emu.url, 'GET', '/me', { token: WS2_TOKEN })).status).toBe(200);
  });

  it('per-workspace dataset control: upsert and delete a contact of one workspace only', async () => {
    const contact = structuredClone(emu.workspace('ws2us').dataset.contacts[0]);
    contact.name = 'Renamed in ws2';
    const put = await http(emu.url, 'PUT', '/__emulator/workspaces/ws2us/contacts', { json: contact });
    expect(put.status).toBe(200);
    const got = await http(emu.url, 'GET', `/contacts/${contact.id}`, { token: WS2_TOKEN });
    expect(got.body.name).toBe('Renamed in ws2');
    expect((await http(emu.url, 'GET', `/contacts/${contact.id}`, { token: DEFAULT_TOKEN })).status).toBe(404);
    await http(emu.url, 'DELETE', `/__emulator/workspaces/ws2us/contacts/${contact.id}`);
    expect((await http(emu.url, 'GET', `/contacts/${contact.id}`, { token: WS2_TOKEN })).status).toBe(404);
    const ds = await http(emu.url, 'GET', '/__emulator/workspaces/ws2us/dataset');
    expect(ds.body.appId).toBe('ws2us');
    expect(ds.body.contacts).toHaveLength(6);
    emu.reset();
    expect(emu.workspace('ws2us').dataset.contacts).toHaveLength(7);
  });

  it("delivers each workspace's webhooks to its subscription, signed with its app's secret, app_id its own", async () => {
    const shared = await endpoint();
    const eu = await endpoint();
    const au = await endpoint();
    const dflt = await endpoint();
    try {
      for (const [path, url] of [
        ['/__emulator/workspaces/ws2us/webhooks/subscription', shared.url],
        ['/__emulator/workspaces/ws3eu/webhooks/subscription', eu.url],
        ['/__emulator/workspaces/ws4au/webhooks/subscription', au.url],
        ['/__emulator/webhooks/subscription', dflt.url],
      ]) {
        const saved = await http(emu.url, 'PUT', path, { json: { url, topics: ['conversation.user.created'] } });
        expect([200, 201]).toContain(saved.status);
        expect(saved.body.ping.status).toBe(200);
      }
      const contact = emu.workspace('ws2us').dataset.contacts[0];
      const n = buildNotification('contact.user.created', contact, { appId: 'not-this-one' });
      for (const ws of ['ws2us', 'ws3eu', 'ws4au'])
        expect((await http(emu.url, 'POST', `/__emulator/workspaces/${ws}/webhooks`, { json: n })).status).toBe(202);
      // the default path sends the notification as given (an unclaimed app_id stays possible)
      expect((await http(emu.url, 'POST', '/__emulator/webhooks', { json: n })).status).toBe(202);
      await until(() => [shared, eu, au, dflt].every((e) => e.received.length === 2));
      const check = (e: typeof shared, secret: string, appId: string) => {
        for (const r of e.received) {
          expect(r.headers['x-hub-signature']).toBe(signBody(r.rawBody, secret));
          expect(JSON.parse(r.rawBody).app_id).toBe(appId);
        }
      };
      // ws2 and ws3 share the public app: the same secret signs both
      check(shared, PUBLIC_APP.clientSecret, 'ws2us');
      check(eu, PUBLIC_APP.clientSecret, 'ws3eu');
      check(au, WS4_SECRET, 'ws4au');
      expect(dflt.received[0].headers['x-hub-signature']).toBe(signBody(dflt.received[0].rawBody, DEFAULT_SECRET));
      expect(JSON.parse(dflt.received[0].rawBody).app_id).toBe('emu1a2b3'); // the ping
      expect(JSON.parse(dflt.received[1].rawBody).app_id).toBe('not-this-one');
      const stats = await http(emu.url, 'GET', '/__emulator/workspaces/ws3eu/webhooks');
      expect(stats.body).toMatchObject({ delivered: 1, pings: { sent: 1, answered: 1 } });
    } finally {
      await Promise.all([shared, eu, au, dflt].map((e) => e.close()));
    }
  });

  it('admin API: creates a workspace (tokens shown once), lists them without tokens, refuses bad definitions', async () => {
    const created = await http(emu.url, 'POST', '/__emulator/workspaces', {
      json: { app_id: 'ws5new', name: 'Brand Five', client_secret: 'ws5-secret', dataset: { contacts: 3, seed: 11 } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      app_id: 'ws5new',
      region: 'US',
      api_host: 'api.intercom.io',
      api_base_url: emu.url,
    });
    const [token] = created.body.access_tokens as string[];
    expect(token).toMatch(/^dG9rO/);
    const me = await http(emu.url, 'GET', '/me', { token });
    expect(me.body.app.id_code).toBe('ws5new');
    const list = await http(emu.url, 'GET', '/__emulator/workspaces');
    const five = list.body.data.find((w: { app_id: string }) => w.app_id === 'ws5new');
    expect(five.access_tokens).toEqual([{ ends_with: token.slice(-4), oauth_client_id: null }]);
    expect(JSON.stringify(list.body)).not.toContain(token);
    expect(JSON.stringify(list.body)).not.toContain('ws5-secret');
    expect(five.counts.contacts).toBe(3);

    const refusals: [unknown, RegExp][] = [
      [{ app_id: 'ws5new' }, /exists/],
      [{ app_id: 'Bad Id!' }, /lowercase/],
      [{ app_id: 'ws6new', access_tokens: [WS2_TOKEN] }, /another workspace/],
      [{ app_id: 'ws6new', app: 'no-such-client' }, /no app/],
      [{ app_id: 'ws6new', region: 'MARS' }, /region/],
    ];
    for (const [json, message] of refusals) {
      const r = await http(emu.url, 'POST', '/__emulator/workspaces', { json });
      expect(r.status).toBe(400);
      expect(r.body.errors[0].message).toMatch(message);
    }
    expect((await http(emu.url, 'GET', '/__emulator/workspaces/nosuchws')).status).toBe(404);
  });
});

describe('Intercom emulator: OAuth (#23)', () => {
  const REDIRECT = 'http://127.0.0.1:9/callback';
  let emu: IntercomEmulator;

  beforeAll(async () => {
    emu = await startIntercomEmulator({
      port: 0,
      accessToken: DEFAULT_TOKEN,
      apps: [
        { ...PUBLIC_APP, name: 'Sync <b>app</b>', redirectUris: [REDIRECT, 'https://sync.example.com/cb'] },
        { clientId: 'other-client', clientSecret: 'other-secret', redirectUris: [REDIRECT] },
      ],
      workspaces: [
        { appId: 'ws2us', name: 'Brand Two' },
        { appId: 'ws3eu', name: 'Brand Three', region: 'EU' },
      ],
      oauth: { codeTtlMs: 300 },
    });
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  /** GET /oauth, then the form's request id. */
  async function authorize(query: Record<string, string>): Promise<string> {
    const page = await http(emu.url, 'GET', `/oauth?${new URLSearchParams(query)}`);
    expect(page.status).toBe(200);
    const m = /name="request" value="([^"]+)"/.exec(page.text);
    expect(m).not.toBeNull();
    return m![1];
  }

  async function allow(request: string, workspace: string): Promise<URL> {
    const r = await http(emu.url, 'POST', '/oauth', { form: { request, workspace, decision: 'allow' } });
    expect(r.status).toBe(302);
    return new URL(r.headers.get('location')!);
  }

  function exchange(base: string, params: Record<string, string>) {
    return http(base, 'POST', '/auth/eagle/token', { form: params });
  }

  it('the page lists every workspace with Allow / Cancel, escapes the app name, forbids framing', async () => {
    const page = await http(emu.url, 'GET', `/oauth?client_id=${PUBLIC_APP.clientId}&state=s1`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.text).toContain('Sync &lt;b&gt;app&lt;/b&gt;');
    expect(page.text).not.toContain('<b>app</b>');
    for (const id of ['emu1a2b3', 'ws2us', 'ws3eu']) expect(page.text).toContain(`value="${id}"`);
    expect(page.text).toContain('value="allow"');
    expect(page.text).toContain('value="deny"');
  });

  it('code and state back at the redirect URL; the code gives a token at the region host; the token reads that workspace', async () => {
    const request = await authorize({ client_id: PUBLIC_APP.clientId, state: 'csrf-123', redirect_uri: REDIRECT });
    const back = await allow(request, 'ws3eu');
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe('csrf-123');
    const code = back.searchParams.get('code')!;
    expect(code).toMatch(/^[A-Za-z0-9_-]{20,}$/);

    // a code of an EU workspace is unknown at the US host
    const wrongHost = await exchange(emu.url, { code, ...client() });
    expect(wrongHost.status).toBe(401);
    expect(wrongHost.body).toMatchObject({
      type: 'error.list',
      errors: [{ code: 'unauthorized', message: 'Unauthorized Code' }],
    });

    const token = await exchange(emu.regionUrl('EU'), { code, ...client() });
    expect(token.status).toBe(200);
    expect(token.headers.get('cache-control')).toBe('no-store');
    expect(token.body).toEqual({ token_type: 'Bearer', token: expect.any(String), access_token: token.body.token });
    const me = await http(emu.regionUrl('EU'), 'GET', '/me', { token: token.body.access_token });
    expect(me.status).toBe(200);
    expectValidResponse(contract, 'get', '/me', 200, me.body);
    expect(me.body.app).toMatchObject({ id_code: 'ws3eu', region: 'EU' });
    // the app now signs the workspace's webhooks; the installation is listed, without its token
    expect(emu.workspace('ws3eu').signingApp?.clientId).toBe(PUBLIC_APP.clientId);
    const installs = await http(emu.url, 'GET', '/__emulator/oauth/installations');
    expect(installs.body.data).toEqual([
      expect.objectContaining({ clientId: PUBLIC_APP.clientId, appId: 'ws3eu', revoked: false }),
    ]);
    expect(installs.text).not.toContain(token.body.token);
  });

  it('JSON and query-parameter token requests are taken too; without redirect_uri the first registered is used', async () => {
    const back = await allow(await authorize({ client_id: PUBLIC_APP.clientId }), 'ws2us');
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.has('state')).toBe(false);
    const r = await http(emu.url, 'POST', '/auth/eagle/token', {
      json: { code: back.searchParams.get('code'), ...client() },
    });
    expect(r.status).toBe(200);
    const back2 = await allow(await authorize({ client_id: PUBLIC_APP.clientId }), 'ws2us');
    const q = new URLSearchParams({ code: back2.searchParams.get('code')!, ...client() });
    expect((await http(emu.url, 'POST', `/auth/eagle/token?${q}`)).status).toBe(200);
  });

  it('refuses a wrong client secret, an unknown client, another client, a missing parameter', async () => {
    const code = (await allow(await authorize({ client_id: PUBLIC_APP.clientId }), 'ws2us')).searchParams.get('code')!;
    const cases: [Record<string, string>, number, string][] = [
      [{ code, client_id: PUBLIC_APP.clientId, client_secret: 'wrong' }, 401, 'Unauthorized Client'],
      [{ code, client_id: 'nobody', client_secret: PUBLIC_APP.clientSecret }, 401, 'Unauthorized Client'],
      [{ code, client_id: 'other-client', client_secret: 'other-secret' }, 401, 'Unauthorized Code'],
      [{ code, client_id: PUBLIC_APP.clientId }, 400, 'client_secret is required'],
      [{ client_id: PUBLIC_APP.clientId, client_secret: PUBLIC_APP.clientSecret }, 400, 'code is required'],
    ];
    for (const [params, status, message] of cases) {
      const r = await exchange(emu.url, params);
      expect({ params, status: r.status, message: r.body.errors[0].message }).toEqual({ params, status, message });
      expect(r.text).not.toContain(PUBLIC_APP.clientSecret);
    }
    // none of them used the code up
    expect((await exchange(emu.url, { code, ...client() })).status).toBe(200);
  });

  it('a replayed code is refused and the token it gave is revoked', async () => {
    const code = (await allow(await authorize({ client_id: PUBLIC_APP.clientId }), 'ws2us')).searchParams.get('code')!;
    const first = await exchange(emu.url, { code, ...client() });
    expect(first.status).toBe(200);
    expect((await http(emu.url, 'GET', '/me', { token: first.body.token })).status).toBe(200);
    const replay = await exchange(emu.url, { code, ...client() });
    expect(replay.status).toBe(401);
    expect(replay.body.errors[0]).toEqual({ code: 'unauthorized', message: 'Unauthorized Code' });
    expect((await http(emu.url, 'GET', '/me', { token: first.body.token })).status).toBe(401);
  });

  it('a code expires (short-lived)', async () => {
    const code = (await allow(await authorize({ client_id: PUBLIC_APP.clientId }), 'ws2us')).searchParams.get('code')!;
    await new Promise((r) => setTimeout(r, 400));
    const late = await exchange(emu.url, { code, ...client() });
    expect(late.status).toBe(401);
    expect(late.body.errors[0].message).toBe('Unauthorized Code');
  });

  it('refuses an unregistered redirect_uri, an unknown or missing client_id with a page, never redirecting', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ client_id: PUBLIC_APP.clientId, redirect_uri: 'https://evil.example.com/cb' }, /not one of the redirect URLs/],
      [{ client_id: PUBLIC_APP.clientId, redirect_uri: `${REDIRECT}/more` }, /not one of the redirect URLs/],
      [{ client_id: 'nobody' }, /No Intercom app/],
      [{ state: 'x' }, /client_id parameter is missing/],
    ];
    for (const [query, message] of cases) {
      const r = await http(emu.url, 'GET', `/oauth?${new URLSearchParams(query)}`);
      expect(r.status).toBe(400);
      expect(r.headers.get('location')).toBeNull();
      expect(r.headers.get('content-type')).toContain('text/html');
      expect(r.text).toMatch(message);
      expect(r.text).not.toContain('name="request"');
    }
  });

  it('Cancel redirects with error=access_denied and the state; a form is single-use; a foreign Origin is 403', async () => {
    const request = await authorize({ client_id: PUBLIC_APP.clientId, state: 'st' });
    const foreign = await http(emu.url, 'POST', '/oauth', {
      form: { request, workspace: 'ws2us', decision: 'allow' },
      headers: { Origin: 'https://evil.example.com' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('location')).toBeNull();
    const deny = await http(emu.url, 'POST', '/oauth', {
      form: { request, workspace: 'ws2us', decision: 'deny' },
      headers: { Origin: emu.url },
    });
    expect(deny.status).toBe(302);
    const back = new URL(deny.headers.get('location')!);
    expect(Object.fromEntries(back.searchParams)).toEqual({ error: 'access_denied', state: 'st' });
    const again = await http(emu.url, 'POST', '/oauth', { form: { request, workspace: 'ws2us', decision: 'allow' } });
    expect(again.status).toBe(400);
    expect(again.text).toMatch(/expired or was already answered/);
    expect(emu.oauth.installations).toEqual([]);
  });

  it('revoking an installation (uninstall) makes its token 401; reset forgets OAuth tokens', async () => {
    const code = (await allow(await authorize({ client_id: PUBLIC_APP.clientId }), 'ws2us')).searchParams.get('code')!;
    const { body } = await exchange(emu.url, { code, ...client() });
    const revoked = await http(emu.url, 'POST', '/__emulator/oauth/revoke', { json: { app_id: 'ws2us' } });
    expect(revoked.body).toEqual({ revoked: 1 });
    expect((await http(emu.url, 'GET', '/me', { token: body.token })).status).toBe(401);

    const code2 = (await allow(await authorize({ client_id: PUBLIC_APP.clientId }), 'ws2us')).searchParams.get('code')!;
    const second = await exchange(emu.url, { code: code2, ...client() });
    emu.reset();
    expect((await http(emu.url, 'GET', '/me', { token: second.body.token })).status).toBe(401);
    expect((await http(emu.url, 'GET', '/me', { token: DEFAULT_TOKEN })).status).toBe(200);
  });

  it('admin API: registers an app (secret shown once), refuses a redirect URL that is not https off loopback', async () => {
    const created = await http(emu.url, 'POST', '/__emulator/apps', {
      json: { name: 'Another', redirect_uris: ['https://x.example.com/cb'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.client_secret).toEqual(expect.any(String));
    const list = await http(emu.url, 'GET', '/__emulator/apps');
    expect(list.text).not.toContain(created.body.client_secret);
    expect(list.body.data.map((a: { client_id: string }) => a.client_id)).toContain(created.body.client_id);
    const bad = await http(emu.url, 'POST', '/__emulator/apps', {
      json: { redirect_uris: ['http://x.example.com/cb'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/https/);
  });
});

function client() {
  return { client_id: PUBLIC_APP.clientId, client_secret: PUBLIC_APP.clientSecret };
}
