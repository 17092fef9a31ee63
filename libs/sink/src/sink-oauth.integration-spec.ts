/**
 * OAuth grants in the real sink (issue #23, docs/CONNECTIONS.md "OAuth grants in the sink"): the
 * connections live in pipeline.connections.v1 (written through a ConnectionStore of another
 * process, sealed), the sink follows them, every Klaviyo request of an OAuth connection goes with
 * the Bearer of its token source; the Klaviyo emulator issues the grants (code flow with PKCE),
 * expires access tokens, rotates refresh tokens and revokes grants.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import { AssignerProtocol, type Producer } from 'kafkajs';
import { loadConfig, Secret, type Config } from '@iks/config';
import {
  CONNECTIONS,
  ConnectionStore,
  ConnectionsModule,
  type Connection,
  type KafkaConnectionDirectory,
  type KlaviyoOAuthGrant,
} from '@iks/connections';
import type { KlaviyoEventRecord } from '@iks/domain';
import { AvroCodec, createKafka, ensureTopics, eventToAvro, PRODUCER, topicName } from '@iks/kafka';
import { createPkce, createState, KLAVIYO_SINK_SCOPES, KlaviyoOAuthClient } from '@iks/oauth';
import { createContext, runnerClosingContext } from '@iks/ops';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../tools/klaviyo-emulator/src';
import { freshTopicEnv } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { KlaviyoTokenSources } from './klaviyo-token-sources';
import { sinkContext } from './sink-stage.module';
import { SinkRunner } from './sink.runner';

const CLIENT_ID = 'iks-sink-oauth-client';
const CLIENT_SECRET = 'iks-sink-oauth-secret-0123456789';
const REDIRECT = 'http://127.0.0.1:9/oauth/klaviyo/callback';
const ACCOUNTS = { a: 'AcctOA', b: 'AcctPK' } as const;
const KEY_B = 'pk_sink_oauth_b_0123456789';
type Name = keyof typeof ACCOUNTS;

function event(name: Name, i: number): KlaviyoEventRecord {
  return {
    kind: 'event',
    metric: 'Conversation Created',
    profile: { email: `${name}.person${i % 10}@example.com` },
    properties: { 'Conversation ID': `${name}${i}` },
    time: '2026-01-02T03:04:05Z',
    unique_id: `intercom:conversation:${name}${i}:created`,
    backfill: false,
    intercom_contact_id: `p${i % 10}`,
    source_notification_id: `notif_${name}${i}`,
    source_topic: 'conversation.user.created',
    connection_id: `conn-${name}`,
  };
}
const events = (name: Name, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => event(name, from + i));

async function produce(config: Config, records: readonly KlaviyoEventRecord[]): Promise<void> {
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  await codec.registerAll();
  const producer = kafka.producer();
  await producer.connect();
  const topic = topicName('events', config.kafka.topicPrefix);
  const messages = await Promise.all(
    records.map(async (r) => ({
      key: `${r.connection_id}/${r.intercom_contact_id}`,
      value: await codec.encode(topic, eventToAvro(r)),
    })),
  );
  try {
    // topics made a moment ago: their leaders may not be known to every broker connection yet
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send({ topic, acks: -1, messages });
        break;
      } catch (e) {
        if (attempt >= 20 || !/does not host|leader/i.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * Until the sink's group is stable with `members` members, each owning a partition of the events
 * topic: the assignment the replicas keep from now on.
 */
async function groupSettled(config: Config, members: number): Promise<void> {
  const admin = createKafka(config.kafka).admin();
  await admin.connect();
  const events = topicName('events', config.kafka.topicPrefix);
  try {
    await waitFor(
      async () => {
        const [group] = (await admin.describeGroups([config.sink.groupId])).groups;
        if (group?.state !== 'Stable' || group.members.length !== members) return false;
        return group.members.every(
          (m) => (AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[events]?.length ?? 0) > 0,
        );
      },
      { what: `${members} replicas, each with a partition of ${events}`, timeoutMs: 60_000, intervalMs: 200 },
    );
  } finally {
    await admin.disconnect();
  }
}

/** Every raw record value of every topic of this run (prefix), read from the beginning. */
async function rawValuesOfAllTopics(config: Config): Promise<Map<string, Buffer[]>> {
  const kafka = createKafka(config.kafka);
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(config.kafka.topicPrefix));
  let expected = 0;
  for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) expected += Number(p.high) - Number(p.low);
  await admin.disconnect();
  const out = new Map<string, Buffer[]>();
  let seen = 0;
  const consumer = kafka.consumer({ groupId: `${config.kafka.topicPrefix}raw-scan-${randomBytes(3).toString('hex')}` });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      seen++;
      const list = out.get(topic) ?? [];
      list.push(Buffer.concat([message.key ?? Buffer.alloc(0), message.value ?? Buffer.alloc(0)]));
      out.set(topic, list);
    },
  });
  try {
    await waitFor(() => seen >= expected, {
      what: `${expected} raw records of ${topics.length} topics`,
      timeoutMs: 60_000,
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Klaviyo's token endpoint behind a delay: refreshes of several replicas meet at Klaviyo at once. */
class SlowTokenEndpoint {
  private readonly server: Server;
  url = '';
  refreshes = 0;
  constructor(upstream: () => string, delayMs: number) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.refreshes++;
        setTimeout(() => {
          fetch(`${upstream()}${req.url}`, {
            method: req.method,
            headers: {
              authorization: String(req.headers.authorization ?? ''),
              'content-type': String(req.headers['content-type'] ?? ''),
            },
            body: Buffer.concat(chunks),
          })
            .then(async (up) => {
              res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
              res.end(Buffer.from(await up.arrayBuffer()));
            })
            .catch(() => res.writeHead(502).end());
        }, delayMs);
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/oauth/token`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const uniqueIds = (em: KlaviyoEmulator, name: Name) => em.account(ACCOUNTS[name]).store.events.map((e) => e.unique_id);

function expectExactlyOnce(em: KlaviyoEmulator, name: Name, expected: readonly KlaviyoEventRecord[]): void {
  const stored = uniqueIds(em, name);
  expect(stored.length).toBe(expected.length); // 0 doubled
  expect(new Set(stored)).toEqual(new Set(expected.map((e) => e.unique_id))); // 0 lost
}

describe('sink: Klaviyo OAuth connections (real broker, Klaviyo emulator issuing the grants)', () => {
  let emulator: KlaviyoEmulator;
  let env: Record<string, string>;
  const opened: Array<{ close(): Promise<void> }> = [];

  const start = async (ttlMs: number) => {
    emulator = await startKlaviyoEmulator({
      port: 0,
      accounts: [
        { id: ACCOUNTS.a, name: 'Brand A (OAuth)', privateKeys: ['pk_sink_oauth_a_unused_01'] },
        { id: ACCOUNTS.b, name: 'Brand B (private key)', privateKeys: [KEY_B] },
      ],
      oauthApps: [
        {
          name: 'Intercom',
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          redirectUris: [REDIRECT],
          scopes: [...KLAVIYO_SINK_SCOPES],
        },
      ],
      oauth: { accessTokenTtlMs: ttlMs },
    });
    env = {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
      SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL ?? '',
      ...freshTopicEnv('oauth'),
      LOG_LEVEL: process.env.IKS_TEST_LOG_LEVEL ?? 'warn',
      STAGE_RETRY_INITIAL_MS: '100',
      STAGE_RETRY_MAX_MS: '2000',
      CONNECTION_SECRET_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      CONNECTIONS_DEFAULT: 'off',
      KLAVIYO_OAUTH_CLIENT_ID: CLIENT_ID,
      KLAVIYO_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
      KLAVIYO_OAUTH_TOKEN_URL: `${emulator.url}/oauth/token`,
      KLAVIYO_OAUTH_REFRESH_BEFORE_MS: String(Math.floor(ttlMs / 3)),
      KLAVIYO_OAUTH_ADOPT_WAIT_MS: '1000',
      SINK_BATCH_MAX_EVENTS: '10',
      SINK_BATCH_MAX_WAIT_MS: '50',
      SINK_RETRY_MAX_DELAY_MS: '1000',
      SINK_ACCOUNT_TRIP_MS: '1500',
    };
    // the run's topics first (ensureTopics asks again while the broker does not host them yet)
    const admin = createKafka(loadConfig(env, 'cli').kafka).admin();
    await admin.connect();
    await ensureTopics(admin, loadConfig(env, 'cli').kafka).finally(() => admin.disconnect());
  };

  /** Another process (the console, the CLI) writing connections: its ConnectionStore and directory. */
  const writer = async () => {
    const config = loadConfig(env, 'cli');
    const app: INestApplicationContext = await createContext(config, 'cli', ConnectionsModule);
    const w = {
      config,
      store: app.get(ConnectionStore),
      directory: app.get<KafkaConnectionDirectory>(CONNECTIONS),
      async close() {
        await app.get<Producer>(PRODUCER).disconnect();
        await app.close();
      },
    };
    opened.push(w);
    return w;
  };

  const sink = async (extra: Record<string, string> = {}) => {
    const config = loadConfig({ ...env, SINK_HTTP_PORT: '0', ...extra }, 'sink');
    const ctx = await sinkContext(config);
    const runner = runnerClosingContext(ctx, SinkRunner);
    const tokens = ctx.get(KlaviyoTokenSources);
    await runner.start();
    const s = { config, runner, tokens, close: () => runner.stop() };
    opened.push(s);
    return s;
  };

  /** The user allows the Intercom app for account A: the code flow with PKCE, as the console runs it. */
  const connectAccountA = async (): Promise<KlaviyoOAuthGrant> => {
    const client = new KlaviyoOAuthClient({
      clientId: CLIENT_ID,
      clientSecret: new Secret(CLIENT_SECRET),
      endpoints: { authorizeBaseUrl: emulator.url, apiBaseUrl: emulator.url },
      secret: (v) => new Secret(v),
    });
    const pkce = createPkce();
    const page = await fetch(
      client.authorizeUrl({ redirectUri: REDIRECT, state: createState(), codeChallenge: pkce.challenge }),
    );
    const requestId = /name="request_id" value="([^"]+)"/.exec(await page.text())?.[1];
    expect(requestId).toBeDefined();
    const answer = await fetch(`${emulator.url}/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: emulator.url },
      body: new URLSearchParams({ request_id: requestId!, account_id: ACCOUNTS.a, decision: 'allow' }).toString(),
    });
    const code = new URL(answer.headers.get('location')!).searchParams.get('code')!;
    const t = await client.exchangeCode({ code, codeVerifier: pkce.verifier, redirectUri: REDIRECT });
    return { clientId: CLIENT_ID, ...t };
  };

  const connection = (
    name: Name,
    klaviyo: Partial<Connection['klaviyo']>,
  ): Omit<Connection, 'revision' | 'updatedAt' | 'fromEnvironment'> => ({
    id: `conn-${name}`,
    name: `Brand ${name.toUpperCase()}`,
    status: 'active',
    intercom: {
      appId: `app${name}`,
      region: 'US',
      apiBaseUrl: 'http://127.0.0.1:1',
      auth: 'token',
      clientSecret: null,
      accessToken: null,
    },
    klaviyo: {
      accountId: ACCOUNTS[name],
      apiBaseUrl: emulator.url,
      auth: 'private_key',
      privateKey: null,
      oauth: null,
      ...klaviyo,
    },
    settings: { metricNames: {}, defaultPhoneRegion: null, deleteOnArchive: false },
  });

  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close().catch(() => undefined);
    await emulator?.close();
  });

  it('an access token expiring in the middle of a backlog is refreshed with no failed request; the rotated grant is stored sealed and used after a restart', async () => {
    await start(3000);
    const w = await writer();
    const first = await connectAccountA();
    await w.store.put(connection('a', { auth: 'oauth', oauth: first }));
    const backlog = events('a', 0, 300);
    await produce(w.config, backlog.slice(0, 150));

    const s = await sink();
    await waitFor(() => uniqueIds(emulator, 'a').length >= 60, { what: 'part of the backlog', timeoutMs: 60_000 });
    // Klaviyo ends the token early (as a revoked or expired one): the next request is answered 401.
    // The rest of the backlog comes in pieces, each written right after an expiry until a 401 was
    // seen: a sink idle for a while refreshes before it sends (the token near its end), so only a
    // request that follows the expiry closely certainly goes with the expired token; after the
    // first refresh the token is fresh and the next piece follows within its lifetime
    const refusals = () => emulator.store.requestLog().filter((r) => r.status === 401).length;
    for (let from = 150; from < backlog.length; from += 10) {
      if (refusals() === 0)
        expect(emulator.oauthGrants.expireAccessTokens((g) => g.accountId === ACCOUNTS.a)).toBeGreaterThan(0);
      await produce(w.config, backlog.slice(from, from + 10));
      await waitFor(() => uniqueIds(emulator, 'a').length >= from + 10, {
        what: `the backlog up to ${from + 10}`,
        timeoutMs: 60_000,
      });
    }

    expectExactlyOnce(emulator, 'a', backlog);
    // the 401 reached Klaviyo's log (unauthenticated requests are logged in the default account) ...
    expect(refusals()).toBeGreaterThanOrEqual(1);
    // ... and no delivery saw it: no retry, the account's circuit never opened, nothing parked or dead-lettered
    expect(s.runner.retryCount).toBe(0);
    const lane = s.runner.lanes.lane('conn-a')!;
    expect(lane.circuit.trips).toBe(0);
    expect(lane.parked).toBe(0);
    expect(s.runner.tally.count('dead_letter')).toBe(0);
    expect(
      emulator
        .account(ACCOUNTS.a)
        .store.requestLog()
        .every((r) => r.status < 300),
    ).toBe(true);
    // refreshed before expiry (3 s tokens) and once on the 401
    expect(s.tokens.refreshes.get('conn-a')!).toBeGreaterThanOrEqual(2);

    // the rotated grant is the connection's newest revision, in every process reading the topic
    const [grant] = emulator.oauthGrants.list();
    await waitFor(() => w.directory.get('conn-a')?.klaviyo.oauth?.refreshToken.reveal() === grant.refreshToken, {
      what: "the rotated grant in the writer's directory",
      timeoutMs: 10_000,
    });
    const stored = w.directory.get('conn-a')!;
    expect(stored.revision).toBeGreaterThan(2);
    expect(stored.status).toBe('active');
    expect(stored.klaviyo.oauth!.accessToken.reveal()).not.toBe(first.accessToken.reveal());

    // no token in clear in any topic (the connections topic holds them sealed)
    const tokens = [
      first.accessToken.reveal(),
      first.refreshToken.reveal(),
      stored.klaviyo.oauth!.accessToken.reveal(),
      stored.klaviyo.oauth!.refreshToken.reveal(),
      CLIENT_SECRET,
    ];
    const raw = await rawValuesOfAllTopics(w.config);
    const connectionsTopic = topicName('connections', w.config.kafka.topicPrefix);
    expect(raw.get(connectionsTopic)!.length).toBe(stored.revision);
    for (const [topic, values] of raw)
      for (const v of values)
        for (const t of tokens) expect({ topic, found: v.includes(Buffer.from(t)) }).toEqual({ topic, found: false });

    // a restart reads the rotated grant from the topic: the first refresh token is refused by now
    await s.close();
    opened.splice(opened.indexOf(s), 1);
    emulator.oauthGrants.expireAccessTokens((g) => g.accountId === ACCOUNTS.a);
    const more = events('a', 300, 330);
    await produce(w.config, more);
    const again = await sink();
    await waitFor(() => uniqueIds(emulator, 'a').length >= backlog.length + more.length, {
      what: 'the events after the restart',
      timeoutMs: 60_000,
    });
    expectExactlyOnce(emulator, 'a', [...backlog, ...more]);
    expect(again.runner.connections().find((c) => c.connection === 'conn-a')).toMatchObject({
      status: 'active',
      healthy: true,
    });
    expect(w.directory.get('conn-a')!.status).toBe('active');
  }, 240_000);

  it('a revoked grant pauses only its connection (needs_reauth, nothing dead-lettered); after a new grant its backlog lands: 0 lost, 0 doubled', async () => {
    await start(3600_000);
    const w = await writer();
    await w.store.put(connection('a', { auth: 'oauth', oauth: await connectAccountA() }));
    await w.store.put(connection('b', { privateKey: new Secret(KEY_B) }));
    const part1 = { a: events('a', 0, 100), b: events('b', 0, 100) };
    await produce(
      w.config,
      part1.a.flatMap((e, i) => [e, part1.b[i]]),
    );
    const s = await sink();
    await waitFor(() => uniqueIds(emulator, 'a').length >= 20, { what: "some of a's events", timeoutMs: 60_000 });

    // the user removes the app from account A: the refresh token and its access tokens are revoked
    expect(emulator.oauthGrants.revokeGrants((g) => g.accountId === ACCOUNTS.a)).toBe(1);
    const part2 = { a: events('a', 100, 150), b: events('b', 100, 150) };
    await produce(
      w.config,
      part2.a.flatMap((e, i) => [e, part2.b[i]]),
    );
    await waitFor(() => w.directory.get('conn-a')?.status === 'needs_reauth', {
      what: 'conn-a needs_reauth in the connections topic',
      timeoutMs: 60_000,
    });
    // the other connection keeps delivering everything
    await waitFor(() => uniqueIds(emulator, 'b').length >= 150, { what: "every one of b's events", timeoutMs: 90_000 });
    expectExactlyOnce(emulator, 'b', [...part1.b, ...part2.b]);
    const deliveredA = uniqueIds(emulator, 'a').length;
    expect(deliveredA).toBeLessThan(150);
    // health names it; the sink stays ready
    await waitFor(() => s.runner.connections().find((c) => c.connection === 'conn-a')?.status === 'needs_reauth', {
      what: "the sink's health naming conn-a",
      timeoutMs: 20_000,
    });
    const health = s.runner.connections().find((c) => c.connection === 'conn-a')!;
    expect(health).toMatchObject({ status: 'needs_reauth', healthy: false });
    expect(health.reason).toMatch(/needs_reauth/);
    expect(s.runner.connections().find((c) => c.connection === 'conn-b')).toMatchObject({ healthy: true });
    expect(s.runner.isReady).toBe(true);
    expect(s.runner.readiness().klaviyo.detail.unhealthy).toEqual(['conn-a']);
    expect(JSON.stringify(s.runner.readiness())).not.toMatch(/kat_|krt_/);
    expect(s.runner.tally.count('dead_letter')).toBe(0);
    // it waits: no request of it reaches Klaviyo meanwhile
    const tokenRequests = () => emulator.store.requestLog().filter((r) => r.status === 401).length;
    const before = tokenRequests();
    await new Promise((r) => setTimeout(r, 2000));
    expect(tokenRequests()).toBe(before);
    expect(uniqueIds(emulator, 'a').length).toBe(deliveredA);

    // the user connects account A again: a new grant, status active
    const current = w.directory.get('conn-a')!;
    await w.store.put({
      ...current,
      status: 'active',
      klaviyo: { ...current.klaviyo, oauth: await connectAccountA() },
    });
    await waitFor(() => uniqueIds(emulator, 'a').length >= 150, {
      what: "a's backlog after the new grant",
      timeoutMs: 120_000,
    });
    expectExactlyOnce(emulator, 'a', [...part1.a, ...part2.a]);
    expectExactlyOnce(emulator, 'b', [...part1.b, ...part2.b]);
    expect(s.runner.tally.count('dead_letter')).toBe(0);
    await waitFor(() => s.runner.connections().every((c) => c.healthy), {
      what: 'every connection healthy',
      timeoutMs: 30_000,
    });
    // the metrics of an OAuth app's events are the app's (branded), not API metrics
    const metrics = emulator.account(ACCOUNTS.a).store.metrics();
    expect(metrics.map((m) => [m.name, m.integration.name])).toEqual([['Conversation Created', 'Intercom']]);
    expect(
      emulator
        .account(ACCOUNTS.b)
        .store.metrics()
        .map((m) => m.integration.name),
    ).toEqual(['API']);
  }, 300_000);

  it('three replicas refreshing one grant at once: the ones refused adopt the rotated grant, none declares needs_reauth, every event once', async () => {
    await start(3600_000);
    const slow = await new SlowTokenEndpoint(() => emulator.url, 3000).listen();
    opened.push(slow);
    const w = await writer();
    await w.store.put(connection('a', { auth: 'oauth', oauth: await connectAccountA() }));
    const backlog = events('a', 0, 600);
    const replicas: Array<Awaited<ReturnType<typeof sink>>> = [];
    for (let i = 0; i < 3; i++) replicas.push(await sink({ KLAVIYO_OAUTH_TOKEN_URL: slow.url }));
    // The backlog only once the three replicas hold their partitions. Written before them, it was the
    // first replica's alone for ~3 s, and the paced budget lets a quiet account burst (10 requests
    // beyond the pace): with 10 events a request it delivered and committed the smallest partition
    // (120 records, the first submitted) within 2 s, before the second replica joined; the third
    // replica got that partition with nothing left in it. The old pacing (10 grants, then 4 s of
    // nothing) only happened to leave 20 of its records for the rebalance.
    await groupSettled(replicas[0].config, 3);
    await produce(w.config, backlog);
    // every replica delivers some of conn-a's records (its lane is made on its first record)
    await waitFor(() => replicas.every((r) => r.runner.lanes.all().length > 0), {
      what: 'three replicas delivering',
      timeoutMs: 90_000,
    });
    expect(uniqueIds(emulator, 'a').length).toBeLessThan(backlog.length - 100);
    // Klaviyo ends the access token: each replica's next request is answered 401 and refreshes
    emulator.oauthGrants.expireAccessTokens((g) => g.accountId === ACCOUNTS.a);
    await waitFor(() => uniqueIds(emulator, 'a').length >= backlog.length, {
      what: 'the whole backlog',
      timeoutMs: 120_000,
    });
    expectExactlyOnce(emulator, 'a', backlog);
    const sum = (f: (r: (typeof replicas)[number]) => number) => replicas.reduce((n, r) => n + f(r), 0);
    const rotated = sum((r) => r.tokens.refreshes.get('conn-a') ?? 0);
    const adopted = sum((r) => r.tokens.adopted.get('conn-a') ?? 0);
    // one refresh token is accepted once: each refusal was followed by an adoption
    expect(rotated).toBeGreaterThanOrEqual(1);
    expect(slow.refreshes).toBe(rotated + adopted);
    // the token endpoint holds each refresh 3 s: another replica's 401 refreshes the same token meanwhile
    expect(adopted).toBeGreaterThanOrEqual(1);
    expect(w.directory.get('conn-a')!.status).toBe('active');
    for (const r of replicas) {
      expect(r.runner.tally.count('dead_letter')).toBe(0);
      expect(r.tokens.needsReauthorization('conn-a')).toBe(false);
    }
    // every replica ends on the grant Klaviyo holds now, the connection's newest revision
    const [grant] = emulator.oauthGrants.list();
    expect(w.directory.get('conn-a')!.klaviyo.oauth!.refreshToken.reveal()).toBe(grant.refreshToken);
    for (const r of replicas) expect(r.tokens.source('conn-a')!.tokens.refreshToken.reveal()).toBe(grant.refreshToken);
    process.stderr.write(`[spec] 3 replicas: ${rotated} refresh(es) accepted, ${adopted} adopted after a refusal\n`);
  }, 300_000);
});
