/**
 * The console's OAuth flows refuse what they must (issue #23): a state that is not pending, a
 * state of another browser, a PKCE verifier that is not the authorization's, a replayed code, a
 * redirect URL the vendor does not have registered. Each refusal is a page with its HTTP status
 * and a message, and nothing reaches the connections topic. The console runs on a real broker
 * (createConsoleApp), the vendors are the emulators.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Kafka } from 'kafkajs';
import { KAFKA, topicName } from '@iks/kafka';
import { KLAVIYO_SINK_SCOPES } from '@iks/oauth';
import { startIntercomEmulator, type IntercomEmulator } from '../../../tools/intercom-emulator/src';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../tools/klaviyo-emulator/src';
import { testConfig } from '../../../test/support/test-config';
import { createConsoleApp } from './console.app';
import { ConsoleConnections } from './console-connections';

const OPERATOR = 'int-operator-token-0123456789';
const K_ID = 'console-int-klaviyo';
const K_SECRET = `k-secret-${randomBytes(8).toString('hex')}`;
const I_ID = 'console-int-intercom';
const I_SECRET = `i-secret-${randomBytes(8).toString('hex')}`;
const ACCOUNT = 'AcctCI';
const PRIVATE_KEY = `pk_ci_${randomBytes(8).toString('hex')}`;
const TOKEN_A = `tok-a-${randomBytes(8).toString('hex')}`;
const TOKEN_B = `tok-b-${randomBytes(8).toString('hex')}`;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('console OAuth refusals', () => {
  let klaviyo: KlaviyoEmulator;
  let intercom: IntercomEmulator;
  let app: NestFastifyApplication;
  let url = '';
  let prefix = '';
  let connections: ConsoleConnections;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    klaviyo = await startKlaviyoEmulator({
      port: 0,
      limits: false,
      apiKeys: [`pk_default_${randomBytes(8).toString('hex')}`],
      accounts: [{ id: ACCOUNT, name: 'Console shop', privateKeys: [PRIVATE_KEY] }],
      oauthApps: [
        {
          name: 'Intercom',
          clientId: K_ID,
          clientSecret: K_SECRET,
          redirectUris: [`${url}/oauth/klaviyo/callback`],
          scopes: [...KLAVIYO_SINK_SCOPES],
        },
      ],
    });
    // Intercom's app has another redirect URL registered than the console's
    intercom = await startIntercomEmulator({
      port: 0,
      apps: [
        { clientId: I_ID, clientSecret: I_SECRET, name: 'Sync', redirectUris: ['https://elsewhere.example.com/cb'] },
      ],
      workspaces: [
        { appId: 'wsconsint', app: I_ID, accessTokens: [TOKEN_A] },
        { appId: 'wsconsother', clientSecret: 'other-private-secret', accessTokens: [TOKEN_B] },
      ],
    });
    const config = testConfig('console', {
      CONSOLE_OPERATOR_TOKEN: OPERATOR,
      CONSOLE_SINK_METRICS_URLS: 'http://127.0.0.1:9/metrics',
      CONNECTION_SECRET_KEYS: `ci1:${randomBytes(32).toString('base64')}`,
      CONNECTIONS_DEFAULT: 'off',
      CONNECTIONS_SEED_EXAMPLES: 'on',
      CONSOLE_PUBLIC_URL: url,
      KLAVIYO_BASE_URL: klaviyo.url,
      KLAVIYO_OAUTH_CLIENT_ID: K_ID,
      KLAVIYO_OAUTH_CLIENT_SECRET: K_SECRET,
      KLAVIYO_OAUTH_AUTHORIZE_URL: `${klaviyo.url}/oauth/authorize`,
      KLAVIYO_OAUTH_TOKEN_URL: `${klaviyo.url}/oauth/token`,
      INTERCOM_OAUTH_CLIENT_ID: I_ID,
      INTERCOM_OAUTH_CLIENT_SECRET: I_SECRET,
      INTERCOM_OAUTH_AUTHORIZE_URL: `${intercom.url}/oauth`,
      INTERCOM_REGION_API_URLS: `US=${intercom.url}`,
    });
    prefix = config.kafka.topicPrefix;
    app = await createConsoleApp(config, false);
    await app.listen(port, '127.0.0.1');
    connections = app.get(ConsoleConnections);
  });

  afterAll(async () => {
    await app?.close();
    await intercom?.close();
    await klaviyo?.close();
  });

  /** POST an action as the page does; the OAuth cookie it set (or was given). */
  async function start(vendor: 'klaviyo' | 'intercom', cookie?: string): Promise<{ url: string; cookie: string }> {
    const res = await fetch(`${url}/api/connections-oauth/${vendor}/start`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-console-operator-token': OPERATOR,
        ...(cookie ? { cookie } : {}),
      },
      body: JSON.stringify({ region: 'US' }),
    });
    const body = (await res.json()) as { url?: string; message?: string };
    expect({ status: res.status, message: body.message }).toEqual({ status: 201, message: undefined });
    const set = res.headers.get('set-cookie');
    return { url: body.url!, cookie: cookie ?? set!.split(';')[0] };
  }

  /** What a browser does on Klaviyo's consent page: Allow for ACCOUNT; the callback URL it is sent to. */
  async function allowAtKlaviyo(authorizeUrl: string): Promise<URL> {
    const html = await (await fetch(authorizeUrl)).text();
    const requestId = /name="request_id" value="([^"]+)"/.exec(html)?.[1];
    expect(requestId).toBeDefined();
    const answer = await fetch(`${klaviyo.url}/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: klaviyo.url },
      body: new URLSearchParams({ request_id: requestId!, account_id: ACCOUNT, decision: 'allow' }).toString(),
    });
    expect(answer.status).toBe(302);
    return new URL(answer.headers.get('location')!);
  }

  async function callback(
    q: { code?: string; state?: string },
    cookie?: string,
  ): Promise<{ status: number; message: string }> {
    const u = new URL(`${url}/oauth/klaviyo/callback`);
    for (const [k, v] of Object.entries(q)) if (v !== undefined) u.searchParams.set(k, v);
    const res = await fetch(u, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
    const html = await res.text();
    const message = /<p id="oauth-result"[^>]*>([\s\S]*?)<\/p>/.exec(html)?.[1].replace(/<[^>]+>/g, '') ?? html;
    return { status: res.status, message };
  }

  async function connectionsTopicRecords(key: 'connections' | 'events' | 'profiles' = 'connections'): Promise<number> {
    const admin = app.get<Kafka>(KAFKA).admin();
    await admin.connect();
    try {
      const topic = topicName(key, prefix);
      if (!(await admin.listTopics()).includes(topic)) return 0;
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((n, p) => n + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  }

  it('refuses a state that is not pending, or that another browser started', async () => {
    const a = await start('klaviyo');
    const back = await allowAtKlaviyo(a.url);
    const code = back.searchParams.get('code')!;
    expect(back.searchParams.get('state')).toBe(new URL(a.url).searchParams.get('state'));

    const forged = await callback({ code, state: 'not-a-state-this-console-made' }, a.cookie);
    expect(forged.status).toBe(400);
    expect(forged.message).toMatch(/state is unknown/);

    // the right state from another browser (no cookie, or another one): refused, and it is spent
    const other = await callback({ code, state: back.searchParams.get('state')! }, 'iks_oauth=' + 'x'.repeat(43));
    expect(other.status).toBe(400);
    expect(other.message).toMatch(/another browser session/);
    const again = await callback({ code, state: back.searchParams.get('state')! }, a.cookie);
    expect(again.status).toBe(400);
    expect(again.message).toMatch(/already used/);

    expect(connections.klaviyoHalves.size).toBe(0);
    expect(await connectionsTopicRecords()).toBe(0);
  });

  it('refuses a code exchanged with another authorization’s PKCE verifier', async () => {
    const a = await start('klaviyo');
    const b = await start('klaviyo', a.cookie);
    const back = await allowAtKlaviyo(a.url);
    // A's code with B's state: the console sends B's verifier, which is not A's challenge
    const r = await callback(
      { code: back.searchParams.get('code')!, state: new URL(b.url).searchParams.get('state')! },
      a.cookie,
    );
    expect(r.status).toBe(400);
    expect(r.message).toMatch(/Klaviyo refused the authorization code .*invalid_grant/);
    expect(r.message).toMatch(/Nothing was stored/);
    expect(connections.klaviyoHalves.size).toBe(0);
    expect(await connectionsTopicRecords()).toBe(0);
  });

  it('refuses a replayed code (and Klaviyo revokes what it gave)', async () => {
    const a = await start('klaviyo');
    const back = await allowAtKlaviyo(a.url);
    const code = back.searchParams.get('code')!;
    const first = await callback({ code, state: back.searchParams.get('state')! }, a.cookie);
    expect(first).toEqual({ status: 200, message: expect.stringContaining(`Klaviyo account ${ACCOUNT}`) });
    expect(connections.klaviyoHalves.size).toBe(1);
    const half = [...connections.klaviyoHalves.values()][0];

    const c = await start('klaviyo', a.cookie);
    const replay = await callback({ code, state: new URL(c.url).searchParams.get('state')! }, a.cookie);
    expect(replay.status).toBe(400);
    expect(replay.message).toMatch(/refused the authorization code/);
    expect(connections.klaviyoHalves.size).toBe(1);
    // RFC 6749 4.1.2: the tokens the replayed code gave no longer work
    const res = await fetch(`${klaviyo.url}/api/accounts`, {
      headers: { authorization: `Bearer ${half.grant.accessToken.reveal()}`, revision: '2026-07-15' },
    });
    expect(res.status).toBe(401);
    expect(await connectionsTopicRecords()).toBe(0);

    // discarding the half revokes its grant at Klaviyo
    const discard = await fetch(`${url}/api/connections-halves/${half.id}/discard`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-console-operator-token': OPERATOR },
      body: '{}',
    });
    expect(discard.status).toBe(201);
    expect(connections.klaviyoHalves.size).toBe(0);
  });

  it('ends at the vendor’s refusal page for a redirect URL it does not have registered; nothing is stored', async () => {
    const a = await start('intercom');
    expect(new URL(a.url).searchParams.get('redirect_uri')).toBe(`${url}/oauth/intercom/callback`);
    const res = await fetch(a.url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/redirect_uri is not one of the redirect URLs registered/);
    expect(connections.intercomHalves.size).toBe(0);
    expect(await connectionsTopicRecords()).toBe(0);
  });

  it('refuses every action without the operator token', async () => {
    const res = await fetch(`${url}/api/connections-oauth/klaviyo/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(403);
    const form = await fetch(`${url}/api/connections`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-console-operator-token': OPERATOR },
      body: 'id=x',
    });
    expect(form.status).toBe(403);
  });

  it("adds by credentials only once both vendors confirm them, and never over another workspace's id", async () => {
    const add = (body: Record<string, string>) =>
      fetch(`${url}/api/connections`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-console-operator-token': OPERATOR },
        body: JSON.stringify({ region: 'US', intercomClientSecret: 'a-client-secret', ...body }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { message?: string; appId?: string } }));
    const bad = await add({ id: 'shop-a', intercomAccessToken: TOKEN_A, klaviyoPrivateKey: 'pk_nobody_holds_this_0' });
    expect(bad.status).toBe(422);
    expect(bad.body.message).toMatch(/^Not added: Klaviyo refused the private key \(401/);
    const badToken = await add({ id: 'shop-a', intercomAccessToken: 'not-a-token', klaviyoPrivateKey: PRIVATE_KEY });
    expect(badToken.status).toBe(422);
    expect(badToken.body.message).toMatch(/Intercom refused the access token \(401/);
    expect(await connectionsTopicRecords()).toBe(0);
    expect(await connectionsTopicRecords('events')).toBe(0); // nothing seeded for a refused one

    const ok = await add({ id: 'shop-a', intercomAccessToken: TOKEN_A, klaviyoPrivateKey: PRIVATE_KEY });
    expect(ok).toEqual({
      status: 201,
      body: { id: 'shop-a', appId: 'wsconsint', accountId: ACCOUNT, status: 'active' },
    });
    const taken = await add({ id: 'shop-a', intercomAccessToken: TOKEN_B, klaviyoPrivateKey: PRIVATE_KEY });
    expect(taken.status).toBe(409);
    expect(taken.body.message).toMatch(/"shop-a" is taken by the connection of workspace wsconsint/);
    const claimed = await add({ id: 'shop-b', intercomAccessToken: TOKEN_A, klaviyoPrivateKey: PRIVATE_KEY });
    expect(claimed.status).toBe(409);
    expect(claimed.body.message).toMatch(/already claimed by connection "shop-a"/);
    expect(await connectionsTopicRecords()).toBe(1);
    expect(connections.directory.get('shop-a')?.intercom.appId).toBe('wsconsint');
    // CONNECTIONS_SEED_EXAMPLES=on: the new connection's example profile and nine events, once
    expect([await connectionsTopicRecords('profiles'), await connectionsTopicRecords('events')]).toEqual([1, 9]);
  });
});
