/**
 * Issues #22 and #23 in a real browser (Debian's chromium, playwright-core): from a deployment
 * with no connection at all (CONNECTIONS_DEFAULT=off), the console's Connections page connects an
 * Intercom workspace (Connect Intercom: authorize at the emulator's /oauth, the code exchanged at
 * the region's /auth/eagle/token) and a Klaviyo account (Connect Klaviyo: code + PKCE S256 +
 * state at the emulator's /oauth/authorize), pairs them, and a day of webhooks goes through the
 * real ingest, transformer and sink: Klaviyo lists every metric as one of this app's (its
 * integration), none as "API". A second connection added by private key through the form gives
 * API metrics. Pause, resume, and a removal that revokes the grant. Then no token, refresh
 * token, code verifier, client secret or key is in any page, log line or topic.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { ConsoleLogger, Logger, type INestApplicationContext } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Config } from '@iks/config';
import { CONNECTIONS, ConnectionsModule, type KafkaConnectionDirectory } from '@iks/connections';
import { KAFKA } from '@iks/kafka';
import { METRICS } from '@iks/mapping';
import { KLAVIYO_SINK_SCOPES } from '@iks/oauth';
import { createContext } from '@iks/ops';
import { createSinkRunner, type SinkRunner } from '@iks/sink';
import { createTransformerRunner, type TransformerRunner } from '@iks/transformer';
import { createConsoleApp } from '../../apps/console/src/console.app';
import { ConsoleConnections } from '../../apps/console/src/console-connections';
import { createIngestApp } from '../../apps/ingest/src/ingest.app';
import {
  contactNotification,
  conversationLifecycle,
  generateDataset,
  signBody,
  startIntercomEmulator,
  ticketLifecycle,
  type IntercomEmulator,
  type IntercomNotification,
} from '../../tools/intercom-emulator/src';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../tools/klaviyo-emulator/src';
import { captureOutput, scanTopics } from '../support/secret-scan';
import { testConfig } from '../support/test-config';
import { waitFor } from '../support/wait-for';

const hex = (n: number) => randomBytes(n).toString('hex');
const OPERATOR = `e2e-operator-${hex(8)}`;
const KLAVIYO_APP = { name: 'Intercom', clientId: `iks-e2e-klaviyo-${hex(4)}`, clientSecret: `ksec-${hex(12)}` };
const INTERCOM_APP = { clientId: `iks-e2e-intercom-${hex(4)}`, clientSecret: `isec-${hex(12)}`, name: 'Klaviyo sync' };
const OAUTH_WS = { appId: 'wsoauthe2e', idBase: 700_000 };
const KEY_WS = {
  appId: 'wskeyede2e',
  idBase: 800_000,
  accessToken: `tok-key-${hex(10)}`,
  clientSecret: `private-app-secret-${hex(8)}`,
};
const OAUTH_ACCOUNT = { id: 'AcctOA', privateKey: `pk_readback_oa_${hex(10)}` };
const KEY_ACCOUNT = { id: 'AcctPK', privateKey: `pk_connect_pk_${hex(10)}` };
const NINE = Object.values(METRICS) as string[];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('console connections (chromium): both OAuth flows, pairing, a private-key connection', () => {
  jest.setTimeout(300_000);
  let klaviyo: KlaviyoEmulator;
  let intercom: IntercomEmulator;
  let consoleApp: NestFastifyApplication;
  let ingest: NestFastifyApplication;
  let transformer: TransformerRunner;
  let sink: SinkRunner;
  let reader: INestApplicationContext;
  const registries = { transformer: new Registry(), sink: new Registry() };
  let browser: Browser;
  let cliConfig: Config;
  let url = '';
  let webhookUrl = '';
  const secretKey = randomBytes(32).toString('base64');
  const pages: string[] = [];
  const written: string[] = [];
  const verifiers: string[] = [];
  let restoreOutput: (() => void) | undefined;

  beforeAll(async () => {
    restoreOutput = captureOutput(written);

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    klaviyo = await startKlaviyoEmulator({
      port: 0,
      // the default account takes its own key only: a key no account holds is 401
      apiKeys: [`pk_default_${hex(10)}`],
      accounts: [
        { id: OAUTH_ACCOUNT.id, name: 'OAuth shop', privateKeys: [OAUTH_ACCOUNT.privateKey] },
        { id: KEY_ACCOUNT.id, name: 'Key shop', privateKeys: [KEY_ACCOUNT.privateKey] },
      ],
      oauthApps: [
        {
          ...KLAVIYO_APP,
          redirectUris: [`${url}/oauth/klaviyo/callback`],
          scopes: [...KLAVIYO_SINK_SCOPES],
          category: 'Customer Service',
        },
      ],
    });
    intercom = await startIntercomEmulator({
      port: 0,
      apps: [{ ...INTERCOM_APP, redirectUris: [`${url}/oauth/intercom/callback`] }],
      workspaces: [
        {
          appId: OAUTH_WS.appId,
          name: 'OAuth workspace',
          dataset: generateDataset({
            seed: 61,
            contacts: 2,
            conversations: 0,
            tickets: 0,
            appId: OAUTH_WS.appId,
            idBase: OAUTH_WS.idBase,
          }),
        },
        {
          appId: KEY_WS.appId,
          name: 'Key workspace',
          accessTokens: [KEY_WS.accessToken],
          clientSecret: KEY_WS.clientSecret,
          dataset: generateDataset({
            seed: 62,
            contacts: 2,
            conversations: 0,
            tickets: 0,
            appId: KEY_WS.appId,
            idBase: KEY_WS.idBase,
          }),
        },
      ],
    });

    const prefix = testConfig('cli').kafka.topicPrefix;
    const env: Record<string, string> = {
      TOPIC_PREFIX: prefix,
      TRANSFORMER_GROUP_ID: `${prefix}transformer`,
      SINK_GROUP_ID: `${prefix}sink`,
      CONNECTION_SECRET_KEYS: `e2ec:${secretKey}`,
      CONNECTIONS_DEFAULT: 'off',
      DEFAULT_PHONE_REGION: 'US',
      INGEST_HOST: '127.0.0.1',
      SINK_BATCH_MAX_WAIT_MS: '50',
      CONTACT_RETRY_INITIAL_MS: '200',
      CONTACT_WAIT_MAX_MS: '30000',
      TRANSFORMER_HTTP_PORT: '0',
      SINK_HTTP_PORT: '0',
      INGEST_ACK_TIMEOUT_MS: '3000',
      KLAVIYO_BASE_URL: klaviyo.url,
      INTERCOM_REGION_API_URLS: `US=${intercom.url}`,
    };
    cliConfig = testConfig('cli', env);
    consoleApp = await createConsoleApp(
      testConfig('console', {
        ...env,
        CONSOLE_OPERATOR_TOKEN: OPERATOR,
        CONSOLE_SINK_METRICS_URLS: 'http://127.0.0.1:9/metrics',
        CONSOLE_PUBLIC_URL: url,
        KLAVIYO_OAUTH_CLIENT_ID: KLAVIYO_APP.clientId,
        KLAVIYO_OAUTH_CLIENT_SECRET: KLAVIYO_APP.clientSecret,
        KLAVIYO_OAUTH_AUTHORIZE_URL: `${klaviyo.url}/oauth/authorize`,
        KLAVIYO_OAUTH_TOKEN_URL: `${klaviyo.url}/oauth/token`,
        INTERCOM_OAUTH_CLIENT_ID: INTERCOM_APP.clientId,
        INTERCOM_OAUTH_CLIENT_SECRET: INTERCOM_APP.clientSecret,
        INTERCOM_OAUTH_AUTHORIZE_URL: `${intercom.url}/oauth`,
      }),
      false,
    );
    await consoleApp.listen(port, '127.0.0.1');
    // the code verifiers the console makes, to look for them afterwards
    const pending = consoleApp.get(ConsoleConnections).pending;
    const add = pending.add.bind(pending);
    pending.add = (nonce, p) => {
      if (p.verifier) verifiers.push(p.verifier);
      return add(nonce, p);
    };

    ingest = await createIngestApp(testConfig('ingest', env), false);
    await ingest.listen(0, '127.0.0.1');
    webhookUrl = `http://127.0.0.1:${(ingest.getHttpServer().address() as { port: number }).port}/webhooks/intercom`;
    transformer = await createTransformerRunner(testConfig('transformer', env), { registry: registries.transformer });
    await transformer.start();
    sink = await createSinkRunner(testConfig('sink', env), { registry: registries.sink });
    await sink.start();
    reader = await createContext(cliConfig, 'cli', ConnectionsModule);
    // the apps start with logging off: print everything they would log, to scan it
    Logger.overrideLogger(new ConsoleLogger({ logLevels: ['error', 'warn', 'log', 'debug'] }));
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    });
  });

  afterAll(async () => {
    const quiet = (p: Promise<unknown> | undefined) => (p ?? Promise.resolve()).catch(() => undefined);
    await quiet(browser?.close());
    await quiet(sink?.stop());
    await quiet(transformer?.stop());
    await quiet(ingest?.close());
    await quiet(consoleApp?.close());
    await quiet(reader?.close());
    await quiet(intercom?.close());
    await quiet(klaviyo?.close());
    restoreOutput?.();
    Logger.overrideLogger(false);
  });

  /** Every page the browser shows is kept, to be scanned for secrets at the end. */
  async function keep(page: Page): Promise<string> {
    const html = await page.content();
    pages.push(html);
    return html;
  }

  async function openConnections(page: Page): Promise<void> {
    await page.goto(`${url}/connections`);
    await keep(page);
    await page.fill('#operator-token', OPERATOR);
  }

  /** The result line after an action that reloads the page, or the refusal it shows. */
  async function actAndReload(page: Page, click: () => Promise<void>): Promise<void> {
    const reloaded = page.waitForEvent('load');
    await click();
    await Promise.race([
      reloaded,
      page.waitForSelector('#result.note', { timeout: 60_000 }).then(async () => {
        throw new Error(`refused: ${await page.locator('#result').innerText()}`);
      }),
    ]);
    await keep(page);
  }

  const directory = () => reader.get<KafkaConnectionDirectory>(CONNECTIONS);

  /** A workspace's day (MAPPING.md's nine metrics): its contacts, a rated conversation, a ticket to resolution. */
  function dayOf(appId: string, idBase: number): IntercomNotification[] {
    const d = intercom.workspace(appId).dataset;
    const [first, second] = d.contacts;
    const startAt = Math.floor(Date.now() / 1000) - 3600;
    const admin = d.admins[0];
    const team = d.teams[0];
    return [
      ...d.contacts.map((c) => contactNotification('contact.user.created', c, { appId })),
      ...conversationLifecycle({
        contact: first,
        admin,
        team,
        startAt,
        appId,
        id: String(idBase + 501),
        rating: 5,
        remark: 'great',
      }),
      ...ticketLifecycle({
        contact: second,
        admin,
        team,
        startAt: startAt + 600,
        appId,
        id: String(idBase + 601),
        ticketType: d.ticketTypes[0],
        isShared: true,
      }),
    ].map((n) => ({ ...n, app_id: appId }));
  }

  async function post(n: IntercomNotification, secret: string): Promise<string> {
    const raw = JSON.stringify(n);
    const res = await fetch(webhookUrl, {
      method: 'POST',
      body: raw,
      headers: { 'content-type': 'application/json', 'x-hub-signature': signBody(raw, secret) },
    });
    return `${res.status} ${await res.text()}`;
  }

  /** GET /api/metrics of an account filtered by integration name: the metric names. */
  async function metricsOf(privateKey: string, integration: string): Promise<string[]> {
    const u = new URL(`${klaviyo.url}/api/metrics`);
    u.searchParams.set('filter', `equals(integration.name,"${integration}")`);
    const res = await fetch(u, {
      headers: { authorization: `Klaviyo-API-Key ${privateKey}`, revision: '2026-07-15', accept: 'application/json' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Array<{ attributes: { name: string } }> };
    return body.data.map((m) => m.attributes.name).sort();
  }

  it('connects both sides through OAuth, pairs them, delivers as the app; adds one by key (API metrics); removes with a revoke', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (d) => void d.accept());

    // an empty deployment: no connection, both buttons, the redirect URLs to register
    await openConnections(page);
    expect(await page.locator('#no-connections').count()).toBe(1);
    expect(await page.locator('#klaviyo-redirect').innerText()).toBe(`${url}/oauth/klaviyo/callback`);
    expect(await page.locator('#intercom-redirect').innerText()).toBe(`${url}/oauth/intercom/callback`);

    // Connect Intercom: the emulator's consent page, the workspace chosen, back to the console
    await page.selectOption('#intercom-region', 'US');
    await Promise.all([page.waitForURL(`${intercom.url}/oauth?**`), page.click('#connect-intercom')]);
    await keep(page);
    await page.check(`input[name=workspace][value=${OAUTH_WS.appId}]`);
    await Promise.all([page.waitForURL(`${url}/oauth/intercom/callback?**`), page.click('button[value=allow]')]);
    await keep(page);
    expect(await page.locator('#oauth-result').getAttribute('data-status')).toBe('200');
    expect(await page.locator('#oauth-result').innerText()).toContain(`Intercom workspace ${OAUTH_WS.appId}`);

    // Connect Klaviyo: PKCE and state, the account chosen on the emulator's consent page
    await Promise.all([page.waitForURL(`${url}/connections`), page.click('#back')]);
    await page.fill('#operator-token', OPERATOR);
    await Promise.all([page.waitForURL(`${klaviyo.url}/oauth/authorize?**`), page.click('#connect-klaviyo')]);
    const authorizeUrl = new URL(page.url());
    expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizeUrl.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await keep(page);
    await page.check(`input[name=account_id][value=${OAUTH_ACCOUNT.id}]`);
    await Promise.all([page.waitForURL(`${url}/oauth/klaviyo/callback?**`), page.click('button[value=allow]')]);
    await keep(page);
    expect(await page.locator('#oauth-result').getAttribute('data-status')).toBe('200');
    expect(await page.locator('#oauth-result').innerText()).toContain(`Klaviyo account ${OAUTH_ACCOUNT.id}`);

    // the two halves wait; paired into connection shop-oa
    await Promise.all([page.waitForURL(`${url}/connections`), page.click('#back')]);
    await keep(page);
    expect(await page.locator('#halves tr[data-side=intercom]').innerText()).toContain(OAUTH_WS.appId);
    expect(await page.locator('#halves tr[data-side=klaviyo]').innerText()).toContain(OAUTH_ACCOUNT.id);
    await page.fill('#operator-token', OPERATOR);
    await page.fill('#pair-id', 'shop-oa');
    await page.fill('#pair-name', 'OAuth shop');
    await actAndReload(page, () => page.click('#pair'));
    const row = page.locator('#connections tr[data-connection=shop-oa]');
    expect(await row.locator('td[data-col=app_id]').innerText()).toBe(OAUTH_WS.appId);
    expect(await row.locator('td[data-col=account]').innerText()).toBe(OAUTH_ACCOUNT.id);
    expect(await row.locator('td[data-col=auth]').innerText()).toContain('oauth / OAuth');
    expect(await row.locator('td[data-col=status]').innerText()).toBe('active');
    expect(await page.locator('#halves tr[data-half]').count()).toBe(0);
    const stored = await waitForConnection('shop-oa');
    expect(stored.klaviyo.auth).toBe('oauth');
    expect(stored.intercom.auth).toBe('oauth');

    // a day of webhooks of the OAuth workspace, signed by the Intercom app's client secret
    const oauthDay = dayOf(OAUTH_WS.appId, OAUTH_WS.idBase);
    for (const n of oauthDay) expect(await post(n, INTERCOM_APP.clientSecret)).toMatch(/^200 (?!.*unclaimed)/);
    await waitFor(async () => (await metricsOf(OAUTH_ACCOUNT.privateKey, KLAVIYO_APP.name)).length === NINE.length, {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: `the nine metrics in ${OAUTH_ACCOUNT.id}`,
    });
    expect(await metricsOf(OAUTH_ACCOUNT.privateKey, KLAVIYO_APP.name)).toEqual([...NINE].sort());
    expect(await metricsOf(OAUTH_ACCOUNT.privateKey, 'API')).toEqual([]);
    const oaEvents = klaviyo.account(OAUTH_ACCOUNT.id).store.events;
    expect(oaEvents.length).toBeGreaterThanOrEqual(NINE.length);
    expect(new Set(oaEvents.map((e) => e.integration))).toEqual(new Set([KLAVIYO_APP.name]));

    // a second connection by private key, through the form (validated live)
    await openConnections(page);
    await page.fill('#add-id', 'shop-pk');
    await page.fill('#add-name', 'Key shop');
    await page.fill('#add-intercom-token', KEY_WS.accessToken);
    await page.fill('#add-intercom-secret', KEY_WS.clientSecret);
    await page.fill('#add-klaviyo-key', 'pk_not_a_key_of_any_account_000');
    await page.click('#add');
    await page.waitForSelector('#result.note');
    expect(await page.locator('#result').innerText()).toMatch(
      /refused \(422\): Not added: Klaviyo refused the private key/,
    );
    expect(directory().get('shop-pk')).toBeUndefined();
    await page.fill('#add-klaviyo-key', KEY_ACCOUNT.privateKey);
    await actAndReload(page, () => page.click('#add'));
    const pkRow = page.locator('#connections tr[data-connection=shop-pk]');
    expect(await pkRow.locator('td[data-col=app_id]').innerText()).toBe(KEY_WS.appId);
    expect(await pkRow.locator('td[data-col=account]').innerText()).toBe(KEY_ACCOUNT.id);
    expect(await pkRow.locator('td[data-col=auth]').innerText()).toContain('token / private key');
    await waitForConnection('shop-pk');

    const keyDay = dayOf(KEY_WS.appId, KEY_WS.idBase);
    for (const n of keyDay) expect(await post(n, KEY_WS.clientSecret)).toMatch(/^200 (?!.*unclaimed)/);
    await waitFor(async () => (await metricsOf(KEY_ACCOUNT.privateKey, 'API')).length === NINE.length, {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: `the nine metrics in ${KEY_ACCOUNT.id}`,
    });
    expect(await metricsOf(KEY_ACCOUNT.privateKey, 'API')).toEqual([...NINE].sort());
    expect(await metricsOf(KEY_ACCOUNT.privateKey, KLAVIYO_APP.name)).toEqual([]);
    expect(await metricsOf(OAUTH_ACCOUNT.privateKey, 'API')).toEqual([]);

    // the connection filter of the Metrics page: one connection's rows only
    const consoleService = consoleApp.get(ConsoleConnections);
    expect(consoleService).toBeDefined();
    await waitFor(
      async () => {
        await page.goto(`${url}/metrics?metric=${encodeURIComponent('Ticket Resolved')}&connection=shop-pk`);
        return (await page.locator('#latest-events tr[data-kind]').count()) > 0;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the read model to hold shop-pk outcomes' },
    );
    await keep(page);
    expect(await page.locator('#connection-filtered').innerText()).toContain('shop-pk');
    const shown = await page.locator('#latest-events tr[data-kind] code').allInnerTexts();
    expect(shown.length).toBeGreaterThan(0);
    for (const uid of shown) expect(uid).toContain(`ticket:${KEY_WS.idBase + 601}:`);

    // pause and resume the key connection, then remove the OAuth one: its grant is revoked
    await openConnections(page);
    await actAndReload(page, () => page.click('#connections tr[data-connection=shop-pk] button[data-action=pause]'));
    expect(await pkRow.locator('td[data-col=status]').innerText()).toBe('paused');
    await page.fill('#operator-token', OPERATOR);
    await actAndReload(page, () => page.click('#connections tr[data-connection=shop-pk] button[data-action=resume]'));
    expect(await pkRow.locator('td[data-col=status]').innerText()).toBe('active');
    const grant = stored.klaviyo.oauth!;
    await page.fill('#operator-token', OPERATOR);
    await actAndReload(page, () => page.click('#connections tr[data-connection=shop-oa] button[data-action=remove]'));
    expect(await row.locator('td[data-col=status]').innerText()).toBe('removed');
    const accounts = await fetch(`${klaviyo.url}/api/accounts`, {
      headers: { authorization: `Bearer ${grant.accessToken.reveal()}`, revision: '2026-07-15' },
    });
    expect(accounts.status).toBe(401);
    const grants = (await (await fetch(`${klaviyo.url}/__emulator/oauth/grants`)).json()) as {
      data: Array<{ client_id: string; account_id: string; revoked: boolean }>;
    };
    expect(grants.data.filter((g) => g.account_id === OAUTH_ACCOUNT.id).map((g) => g.revoked)).toEqual([true]);
    await page.close();

    // no secret anywhere: pages, logs, topics
    const intercomToken = stored.intercom.accessToken!.reveal();
    const secrets = [
      secretKey,
      OPERATOR,
      KLAVIYO_APP.clientSecret,
      INTERCOM_APP.clientSecret,
      KEY_WS.clientSecret,
      KEY_WS.accessToken,
      KEY_ACCOUNT.privateKey,
      intercomToken,
      grant.accessToken.reveal(),
      grant.refreshToken.reveal(),
      ...verifiers,
    ];
    expect(verifiers.length).toBe(1);
    const logs = written.join('');
    expect(logs).toContain('waiting to be paired'); // the console's own log lines were captured
    expect(pages.length).toBeGreaterThan(8);
    for (const s of secrets) {
      expect({ secret: s.slice(0, 6), inLogs: logs.includes(s) }).toEqual({ secret: s.slice(0, 6), inLogs: false });
      expect({ secret: s.slice(0, 6), inPages: pages.some((p) => p.includes(s)) }).toEqual({
        secret: s.slice(0, 6),
        inPages: false,
      });
    }
    expect(await scanTopics(reader.get<Kafka>(KAFKA), cliConfig.kafka.topicPrefix, secrets)).toEqual([]);
    // nor in a metric: the sink (its connections' states), the transformer, ingest and the console
    sink.connections(); // as readiness asks: the per-connection state series
    const ingestMetrics = webhookUrl.replace('/webhooks/intercom', '/metrics');
    const metrics = [
      await registries.sink.metrics(),
      await registries.transformer.metrics(),
      await (await fetch(ingestMetrics)).text(),
      await (await fetch(`${url}/ops/metrics`)).text(),
    ].join('\n');
    expect(metrics).toMatch(/connection="shop-pk"/); // shop-oa is removed by now
    expect(secrets.filter((x) => metrics.includes(x))).toEqual([]);
  });

  async function waitForConnection(id: string) {
    await waitFor(() => directory().get(id) !== undefined, { timeoutMs: 30_000, what: `connection ${id} read back` });
    // every app follows the topic: give ingest, the transformer and the sink a moment to read it
    await new Promise((r) => setTimeout(r, 2000));
    return directory().get(id)!;
  }
});
