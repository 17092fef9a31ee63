/**
 * Issue #22's e2e: three Intercom workspaces to three Klaviyo accounts, plus one workspace no
 * connection claims, through the real ingest, transformer and sink on one broker. Every event
 * and profile lands only in its own account; the unclaimed workspace's webhooks are kept and
 * land in their account once its connection is added and claimed; no secret is in any topic.
 *
 * Two workspaces share one public Intercom app (one client secret), one has a private app and
 * is hosted in the EU; the unclaimed one is signed by the shared app.
 */
import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { Secret, type Config } from '@iks/config';
import { ConnectionStore, ConnectionsModule, type ConnectionInput } from '@iks/connections';
import { KAFKA } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { createSinkRunner, type SinkRunner } from '@iks/sink';
import { createTransformerRunner, type TransformerRunner } from '@iks/transformer';
import { runConnectionsClaim } from '../../apps/cli/src/commands/connections-claim.command';
import { createIngestApp } from '../../apps/ingest/src/ingest.app';
import {
  contactNotification,
  conversationLifecycle,
  generateDataset,
  signBody,
  startIntercomEmulator,
  ticketLifecycle,
  type Dataset,
  type IntercomEmulator,
  type IntercomNotification,
} from '../../tools/intercom-emulator/src';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../tools/klaviyo-emulator/src';
import { captureOutput, scanTopics } from '../support/secret-scan';
import { testConfig } from '../support/test-config';
import { waitFor } from '../support/wait-for';

const SHARED_APP_SECRET = `shared-app-secret-${randomBytes(6).toString('hex')}`;

interface Tenant {
  /** Added to the workspace's ids (no two workspaces share one, as in Intercom). */
  readonly idBase: number;
  readonly connection: string;
  readonly appId: string;
  readonly account: string;
  readonly privateKey: string;
  readonly accessToken: string;
  readonly clientSecret: string;
  readonly region: 'US' | 'EU';
  dataset?: Dataset;
}

const tenant = (i: number, connection: string, region: 'US' | 'EU', privateApp: boolean): Tenant => ({
  idBase: i * 100_000,
  connection,
  appId: `ws${connection}${i}`,
  account: `Acct${connection.slice(0, 1).toUpperCase()}${i}x`.slice(0, 6),
  privateKey: `pk_${connection}_${randomBytes(10).toString('hex')}`,
  accessToken: `tok_${connection}_${randomBytes(10).toString('hex')}`,
  clientSecret: privateApp ? `private-secret-${connection}-${randomBytes(6).toString('hex')}` : SHARED_APP_SECRET,
  region,
});

const TENANTS: Tenant[] = [
  tenant(1, 'alpha', 'US', false),
  tenant(2, 'bravo', 'US', false),
  tenant(3, 'charlie', 'EU', true),
];
const LATE = tenant(4, 'delta', 'US', false); // its workspace sends before its connection exists

/** A workspace's day: each contact created, a conversation for the first, a ticket for the second. */
function webhooksOf(t: Tenant): IntercomNotification[] {
  const d = t.dataset!;
  const [first, second] = d.contacts;
  const admin = d.admins[0];
  const team = d.teams[0];
  const startAt = Math.floor(Date.now() / 1000) - 3600;
  return [
    ...d.contacts.map((c) => contactNotification('contact.user.created', c, { appId: t.appId })),
    ...conversationLifecycle({ contact: first, admin, team, startAt, appId: t.appId, id: String(t.idBase + 501) }),
    ...ticketLifecycle({ contact: second, admin, team, startAt, appId: t.appId, id: String(t.idBase + 601) }),
  ].map((n) => ({ ...n, app_id: t.appId }));
}

/** Conversation and ticket ids of a workspace's day (what its events' unique_ids name). */
function objectIds(webhooks: readonly IntercomNotification[]): Set<string> {
  const ids = new Set<string>();
  for (const n of webhooks) {
    const item = n.data.item as { type?: string; id?: string };
    if (item.type === 'conversation' || item.type === 'ticket') ids.add(`${item.type}:${item.id}`);
  }
  return ids;
}

describe('connections: three workspaces to three accounts, and one unclaimed', () => {
  jest.setTimeout(300_000);
  let klaviyo: KlaviyoEmulator;
  let intercom: IntercomEmulator;
  let ingest: NestFastifyApplication;
  let transformer: TransformerRunner;
  let sink: SinkRunner;
  let admin: INestApplicationContext;
  let cliConfig: Config;
  let webhookUrl = '';
  const secretKey = randomBytes(32).toString('base64');
  // every line the apps log (at debug level), and their metrics: scanned for secrets at the end
  const logged: string[] = [];
  let restoreOutput: (() => void) | undefined;
  const registries = { transformer: new Registry(), sink: new Registry() };
  let ingestBase = '';

  beforeAll(async () => {
    // only warnings and errors reach the test's output, as at the usual log level
    restoreOutput = captureOutput(logged, (text) => /WARN|ERROR/.test(text));
    klaviyo = await startKlaviyoEmulator({
      port: 0,
      accounts: [...TENANTS, LATE].map((t) => ({ id: t.account, name: t.connection, privateKeys: [t.privateKey] })),
    });
    intercom = await startIntercomEmulator({
      port: 0,
      apps: [{ clientId: 'sync-public-app', clientSecret: SHARED_APP_SECRET, name: 'Sync', redirectUris: [] }],
      workspaces: [...TENANTS, LATE].map((t, i) => ({
        appId: t.appId,
        region: t.region,
        accessTokens: [t.accessToken],
        dataset: generateDataset({
          seed: 40 + i,
          contacts: 3,
          conversations: 0,
          tickets: 0,
          appId: t.appId,
          idBase: t.idBase,
        }),
        ...(t.clientSecret === SHARED_APP_SECRET ? { app: 'sync-public-app' } : { clientSecret: t.clientSecret }),
      })),
      regionPorts: { EU: 0 },
    });
    for (const t of [...TENANTS, LATE]) t.dataset = intercom.workspace(t.appId).dataset;

    const prefix = testConfig('cli').kafka.topicPrefix;
    const env: Record<string, string> = {
      TOPIC_PREFIX: prefix,
      TRANSFORMER_GROUP_ID: `${prefix}transformer`,
      SINK_GROUP_ID: `${prefix}sink`,
      CONNECTION_SECRET_KEYS: `e2e1:${secretKey}`,
      CONNECTIONS_DEFAULT: 'off',
      INGEST_HOST: '127.0.0.1',
      SINK_BATCH_MAX_WAIT_MS: '50',
      CONTACT_RETRY_INITIAL_MS: '200',
      CONTACT_WAIT_MAX_MS: '30000',
      TRANSFORMER_HTTP_PORT: '0',
      SINK_HTTP_PORT: '0',
      INGEST_ACK_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'debug',
    };
    cliConfig = testConfig('cli', env);
    admin = await createContext(cliConfig, 'cli', ConnectionsModule);
    for (const t of TENANTS) await admin.get(ConnectionStore).put(connectionOf(t));

    ingest = await createIngestApp(testConfig('ingest', env));
    await ingest.listen(0, '127.0.0.1');
    ingestBase = `http://127.0.0.1:${(ingest.getHttpServer().address() as { port: number }).port}`;
    webhookUrl = `${ingestBase}/webhooks/intercom`;
    transformer = await createTransformerRunner(testConfig('transformer', env), { registry: registries.transformer });
    await transformer.start();
    sink = await createSinkRunner(testConfig('sink', env), { registry: registries.sink });
    await sink.start();
  });

  afterAll(async () => {
    const quiet = (p: Promise<unknown> | undefined) => (p ?? Promise.resolve()).catch(() => undefined);
    await quiet(sink?.stop());
    await quiet(transformer?.stop());
    await quiet(ingest?.close());
    await quiet(admin?.close());
    await quiet(intercom?.close());
    await quiet(klaviyo?.close());
    restoreOutput?.();
  });

  function connectionOf(t: Tenant): ConnectionInput {
    return {
      id: t.connection,
      name: `Brand ${t.connection}`,
      intercom: {
        appId: t.appId,
        region: t.region,
        apiBaseUrl: intercom.regionUrl(t.region),
        auth: 'token',
        clientSecret: new Secret(t.clientSecret),
        accessToken: new Secret(t.accessToken),
      },
      klaviyo: {
        accountId: t.account,
        apiBaseUrl: klaviyo.url,
        auth: 'private_key',
        privateKey: new Secret(t.privateKey),
        oauth: null,
      },
      // the datasets have national phone numbers: each connection's own region
      settings: { metricNames: {}, defaultPhoneRegion: 'US', deleteOnArchive: false },
    };
  }

  async function post(n: IntercomNotification, secret: string): Promise<{ status: number; body: string }> {
    const raw = JSON.stringify(n);
    const res = await fetch(webhookUrl, {
      method: 'POST',
      body: raw,
      headers: { 'content-type': 'application/json', 'x-hub-signature': signBody(raw, secret) },
    });
    return { status: res.status, body: await res.text() };
  }

  const accountEvents = (t: Tenant) => klaviyo.account(t.account).store.events;

  it('delivers every workspace to its own account only, keeps the unclaimed one, and lands it once claimed', async () => {
    const sent = new Map<Tenant, IntercomNotification[]>();
    for (const t of [...TENANTS, LATE]) sent.set(t, webhooksOf(t));
    // interleaved, as several workspaces send at once
    const queue = [...sent.entries()].flatMap(([t, ns]) => ns.map((n, i) => ({ t, n, i })));
    queue.sort((a, b) => a.i - b.i);
    for (const { t, n } of queue) {
      const r = await post(n, t.clientSecret);
      expect({ status: r.status, unclaimed: r.body.includes('unclaimed') }).toEqual({
        status: 200,
        unclaimed: t === LATE,
      });
    }
    // a webhook signed by no app the deployment knows: 401, kept nowhere
    expect((await post(sent.get(LATE)![0], 'not-a-known-secret-at-all')).status).toBe(401);

    for (const t of TENANTS) {
      const ids = objectIds(sent.get(t)!);
      await waitFor(
        () => [...ids].every((id) => accountEvents(t).some((e) => e.unique_id.startsWith(`intercom:${id}:`))),
        { timeoutMs: 120_000, what: `the events of workspace ${t.appId} in account ${t.account}` },
      );
    }
    for (const t of [...TENANTS, LATE]) {
      const mine = objectIds(sent.get(t)!);
      for (const e of accountEvents(t)) {
        const m = /^intercom:(conversation|ticket):(\d+):/.exec(e.unique_id);
        expect({
          account: t.account,
          object: m && `${m[1]}:${m[2]}`,
          mine: m !== null && mine.has(`${m[1]}:${m[2]}`),
        }).toEqual({ account: t.account, object: m && `${m[1]}:${m[2]}`, mine: true });
      }
    }
    expect(accountEvents(LATE)).toHaveLength(0);

    // profiles: each account holds only its workspace's people
    for (const t of [...TENANTS, LATE]) {
      const emails = new Set(t.dataset!.contacts.map((c) => c.email).filter(Boolean));
      const profiles = klaviyo.account(t.account).store.profiles();
      if (t === LATE) expect(profiles).toHaveLength(0);
      else expect(profiles.length).toBeGreaterThan(0);
      for (const p of profiles) if (p.email) expect(emails.has(p.email)).toBe(true);
    }

    // the late workspace's connection is added, and its kept webhooks claimed
    await admin.get(ConnectionStore).put(connectionOf(LATE));
    const out: string[] = [];
    const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => out.push(s) } as never;
    expect(
      await runConnectionsClaim({ connectionId: LATE.connection, fromBeginning: false, yes: true }, cliConfig, io),
    ).toBe(0);
    const lateIds = objectIds(sent.get(LATE)!);
    await waitFor(
      () => [...lateIds].every((id) => accountEvents(LATE).some((e) => e.unique_id.startsWith(`intercom:${id}:`))),
      { timeoutMs: 120_000, what: `the claimed events of ${LATE.appId}` },
    );
    for (const t of TENANTS)
      expect(accountEvents(t).some((e) => lateIds.has(e.unique_id.split(':').slice(1, 3).join(':')))).toBe(false);

    // no secret, token or key in any topic of the run (raw bytes, every partition, from the beginning)
    const secrets = [
      secretKey,
      SHARED_APP_SECRET,
      ...[...TENANTS, LATE].flatMap((t) => [t.privateKey, t.accessToken, t.clientSecret]),
    ];
    const found = await scanTopics(admin.get<Kafka>(KAFKA), cliConfig.kafka.topicPrefix, secrets);
    expect(found).toEqual([]);
    // nor in a log line or a metric of the three apps
    expect(
      sink
        .connections()
        .map((c) => c.connection)
        .sort(),
    ).toEqual(['alpha', 'bravo', 'charlie', 'delta']); // as readiness asks
    const metrics = {
      ingest: await (await fetch(`${ingestBase}/metrics`)).text(),
      transformer: await registries.transformer.metrics(),
      sink: await registries.sink.metrics(),
    };
    expect(metrics.ingest).toContain('iks_ingest_unclaimed_total');
    expect(metrics.sink).toMatch(/connection="alpha"/);
    const logs = logged.join('');
    expect(logs).toMatch(/connection/i); // the apps did log (at debug level) while this ran
    const where = (text: string) =>
      secrets.filter((x) => text.includes(x) || text.includes(Buffer.from(x).toString('base64')));
    expect({
      logs: where(logs),
      ...Object.fromEntries(Object.entries(metrics).map(([app, m]) => [app, where(m)])),
    }).toEqual({ logs: [], ingest: [], transformer: [], sink: [] });
  });
});
