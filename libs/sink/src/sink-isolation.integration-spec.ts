/**
 * Isolation in the sink (docs/CONNECTIONS.md, issue #22): three connections, three Klaviyo
 * accounts of the emulator (each its own key, limits and store), one sink on the same
 * partitions. One account fails (a wrong key: 401; or Klaviyo throttling / failing: 429 or 503
 * from a small proxy in front of the emulator); the two others deliver everything meanwhile; once
 * the third answers again its records land, in order, with 0 lost and 0 doubled (counted by
 * unique_id in each account's store).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Secret, type Config } from '@iks/config';
import { StaticConnections, type Connection } from '@iks/connections';
import type { KlaviyoDeletionRecord, KlaviyoEventRecord, KlaviyoProfileRecord, KlaviyoRecord } from '@iks/domain';
import {
  AvroCodec,
  createKafka,
  deadLetterFromAvro,
  deletionToAvro,
  dlqName,
  eventToAvro,
  profileToAvro,
  topicName,
} from '@iks/kafka';
import { TopicTap } from '../../../test/support/raw-topic';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../tools/klaviyo-emulator/src';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { createSinkRunner } from './sink-stage.module';
import type { SinkRunner } from './sink.runner';

const KEYS = { a: 'pk_acct_a_0123456789', b: 'pk_acct_b_0123456789', c: 'pk_acct_c_0123456789' } as const;
const ACCOUNTS = { a: 'AcctAA', b: 'AcctBB', c: 'AcctCC' } as const;
type Name = keyof typeof KEYS;
const PEOPLE = 12;
const EVENTS = 90;

function connection(name: Name, baseUrl: string, key: string = KEYS[name]): Connection {
  return {
    id: `conn-${name}`,
    name: `Brand ${name.toUpperCase()}`,
    status: 'active',
    revision: 1,
    updatedAt: Date.now(),
    fromEnvironment: false,
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
      apiBaseUrl: baseUrl,
      auth: 'private_key',
      privateKey: new Secret(key),
      oauth: null,
    },
    settings: { metricNames: {}, defaultPhoneRegion: null, deleteOnArchive: false },
  };
}

/** The same contact ids in every workspace (p0..p11): a contact id is unique only within its connection. */
function event(name: Name, i: number): KlaviyoEventRecord {
  return {
    kind: 'event',
    metric: 'Conversation Created',
    profile: { email: `${name}.person${i % PEOPLE}@example.com` },
    properties: { 'Conversation ID': `${name}${i}` },
    time: '2026-01-02T03:04:05Z',
    unique_id: `intercom:conversation:${name}${i}:created`,
    backfill: false,
    intercom_contact_id: `p${i % PEOPLE}`,
    source_notification_id: `notif_${name}${i}`,
    source_topic: 'conversation.user.created',
    connection_id: `conn-${name}`,
  };
}

function profile(name: Name, person: number, firstName: string): KlaviyoProfileRecord {
  return {
    kind: 'profile',
    intercom_contact_id: `p${person}`,
    email: `${name}.person${person}@example.com`,
    first_name: firstName,
    properties: {},
    updated_at: null,
    backfill: false,
    source_notification_id: `notif_${name}_profile_${person}_${firstName}`,
    connection_id: `conn-${name}`,
  };
}

function deletion(name: Name, person: number): KlaviyoDeletionRecord {
  return {
    kind: 'deletion',
    intercom_contact_id: `p${person}`,
    email: `${name}.person${person}@example.com`,
    requested_at: Date.now(),
    source_notification_id: `notif_${name}_del_${person}`,
    connection_id: `conn-${name}`,
  };
}

async function produce(config: Config, records: readonly KlaviyoRecord[]): Promise<void> {
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  await codec.registerAll();
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (const r of records) {
      const [key, value] =
        r.kind === 'event'
          ? (['events', eventToAvro(r)] as const)
          : r.kind === 'profile'
            ? (['profiles', profileToAvro(r)] as const)
            : (['deletions', deletionToAvro(r)] as const);
      const topic = topicName(key, config.kafka.topicPrefix);
      // the transformer's key of a non-default connection: <connection>/<contact id>
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key: `${r.connection_id}/${r.intercom_contact_id}`, value: await codec.encode(topic, value) }],
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** A small HTTP server in front of the emulator: answers `failing` (429 with Retry-After 1, or 503) until told to pass requests on. */
class FlakyProxy {
  failing: 429 | 503 | null;
  failed = 0;
  private readonly server: Server;
  url = '';

  constructor(
    private readonly upstream: string,
    failing: 429 | 503,
  ) {
    this.failing = failing;
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.failing !== null) {
          this.failed++;
          const status = this.failing;
          res.writeHead(status, {
            'content-type': 'application/vnd.api+json',
            ...(status === 429 ? { 'retry-after': '1' } : {}),
          });
          res.end(
            JSON.stringify({
              errors: [{ status, code: status === 429 ? 'throttled' : 'error', title: 'injected', detail: 'injected' }],
            }),
          );
          return;
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
        fetch(`${this.upstream}${req.url}`, {
          method: req.method,
          headers,
          body: chunks.length ? Buffer.concat(chunks) : undefined,
        })
          .then(async (up) => {
            const body = Buffer.from(await up.arrayBuffer());
            const out: Record<string, string> = {};
            up.headers.forEach((v, k) => {
              if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'content-encoding') out[k] = v;
            });
            res.writeHead(up.status, out);
            res.end(body);
          })
          .catch(() => res.writeHead(502).end());
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** The one dead letter of `<topic>.dlq`. */
async function deadLetterOf(config: Config, key: 'events' | 'profiles' | 'deletions') {
  const dlq = dlqName(topicName(key, config.kafka.topicPrefix));
  const tap = new TopicTap(createKafka(config.kafka), new AvroCodec(config.kafka), `${config.kafka.topicPrefix}tap`);
  await tap.start([dlq]);
  try {
    await waitFor(() => tap.of(dlq).length === 1, { what: `the dead letter in ${dlq}`, timeoutMs: 30_000 });
    return deadLetterFromAvro(tap.of(dlq)[0].value);
  } finally {
    await tap.stop();
  }
}

const uniqueIds = (em: KlaviyoEmulator, account: string) => em.account(account).store.events.map((e) => e.unique_id);

/** Every one of `name`'s events stored exactly once in its own account, and none elsewhere. */
function expectExactlyOnce(em: KlaviyoEmulator, name: Name, expected: readonly string[]): void {
  const stored = uniqueIds(em, ACCOUNTS[name]);
  expect(stored.length).toBe(expected.length); // 0 doubled (the store keeps a repeat only as duplicateEventsIgnored)
  expect(new Set(stored)).toEqual(new Set(expected)); // 0 lost
}

describe('sink isolation: three Klaviyo accounts, one failing (real broker, Klaviyo emulator)', () => {
  let emulator: KlaviyoEmulator;
  let runner: SinkRunner | undefined;
  let proxy: FlakyProxy | undefined;

  beforeEach(async () => {
    emulator = await startKlaviyoEmulator({
      port: 0,
      // the default account takes only its own key: a key no account holds is refused (401)
      apiKeys: ['pk_default_not_used_0123'],
      accounts: (['a', 'b', 'c'] as const).map((n) => ({
        id: ACCOUNTS[n],
        name: `Brand ${n}`,
        privateKeys: [KEYS[n]],
      })),
    });
  });
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await proxy?.close();
    proxy = undefined;
    await emulator.close();
  });

  const sinkConfig = () =>
    testConfig('sink', {
      KLAVIYO_API_KEY: 'pk_default_not_used_0123',
      KLAVIYO_BASE_URL: emulator.url,
      SINK_BATCH_MAX_WAIT_MS: '50',
      SINK_RETRY_MAX_DELAY_MS: '1000',
      SINK_ACCOUNT_TRIP_MS: '1500',
    });

  const all = (name: Name) => Array.from({ length: EVENTS }, (_, i) => event(name, i));
  /** The three connections' events interleaved, so that they share partitions and batches. */
  const interleaved = () => all('a').flatMap((e, i) => [e, all('b')[i], all('c')[i]]);

  it("a 401 on one account parks only its records; the others deliver everything; a new key lands the third's, in order, and a deletion in one workspace touches no other", async () => {
    const config = sinkConfig();
    const directory = new StaticConnections([
      connection('a', emulator.url),
      connection('b', emulator.url),
      connection('c', emulator.url, 'pk_revoked_key_0123456789'),
    ]);
    // profile v1 then v2 of c's person 1 (order must hold through the parking), and a deletion of c's person 3
    const deleted = 3;
    const stranger: KlaviyoEventRecord = {
      ...event('a', 999),
      unique_id: 'intercom:conversation:x1:created',
      connection_id: 'conn-x',
    };
    await produce(config, [
      ...interleaved(),
      stranger,
      profile('c', 1, 'One'),
      profile('a', 1, 'Alpha'),
      profile('c', 1, 'Two'),
      deletion('c', deleted),
    ]);
    runner = await createSinkRunner(config, { connections: directory });
    await runner.start();
    const sink = runner;

    await waitFor(
      () => uniqueIds(emulator, ACCOUNTS.a).length === EVENTS && uniqueIds(emulator, ACCOUNTS.b).length === EVENTS,
      { what: 'every event of the two healthy accounts', timeoutMs: 90_000 },
    );
    expect(uniqueIds(emulator, ACCOUNTS.c)).toHaveLength(0);
    // the failing connection is named; the sink stays ready (the others deliver)
    const c = sink.connections().find((x) => x.connection === 'conn-c')!;
    expect(c).toMatchObject({ healthy: false, circuit: 'open', account: ACCOUNTS.c });
    expect(c.reason).toMatch(/401/);
    expect(c.parked).toBeGreaterThan(0);
    expect(
      sink
        .connections()
        .filter((x) => !x.healthy)
        .map((x) => x.connection),
    ).toEqual(['conn-c']);
    await waitFor(() => sink.isReady, { what: 'ready with one account down', timeoutMs: 20_000 });
    expect(JSON.stringify(sink.readiness())).not.toMatch(/pk_/);
    // a's person 1 is upserted; a deletion of p3 in c suppressed nothing of a's or b's p3
    expect(
      emulator.account(ACCOUNTS.a).store.findProfile({ email: 'a.person1@example.com' })?.attributes.first_name,
    ).toBe('Alpha');
    expectExactlyOnce(
      emulator,
      'a',
      all('a').map((e) => e.unique_id),
    );
    expectExactlyOnce(
      emulator,
      'b',
      all('b').map((e) => e.unique_id),
    );

    // the operator gives connection c a working key (the directory's change, as the connections topic would carry it)
    directory.put(connection('c', emulator.url));
    const expectedC = all('c')
      .filter((e) => e.intercom_contact_id !== `p${deleted}`)
      .map((e) => e.unique_id);
    await waitFor(
      () =>
        uniqueIds(emulator, ACCOUNTS.c).length >= expectedC.length &&
        emulator.account(ACCOUNTS.c).store.deletions.length === 1 &&
        emulator.account(ACCOUNTS.c).store.findProfile({ email: 'c.person1@example.com' }),
      { what: "the third account's records after its key works", timeoutMs: 90_000 },
    );
    await waitFor(() => sink.connections().every((x) => x.healthy), {
      what: 'every connection healthy',
      timeoutMs: 20_000,
    });
    expectExactlyOnce(emulator, 'c', expectedC);
    // the later upsert of c's person 1 is the one Klaviyo keeps: the parked profiles went in order
    await waitFor(
      () =>
        emulator.account(ACCOUNTS.c).store.findProfile({ email: 'c.person1@example.com' })?.attributes.first_name ===
        'Two',
      { what: "c's person 1 upserted in order", timeoutMs: 30_000 },
    );
    expect(emulator.account(ACCOUNTS.c).store.deletions[0].identifier).toEqual({
      email: `c.person${deleted}@example.com`,
    });
    expectExactlyOnce(
      emulator,
      'a',
      all('a').map((e) => e.unique_id),
    );
    expectExactlyOnce(
      emulator,
      'b',
      all('b').map((e) => e.unique_id),
    );
    // the one record of a connection the sink does not know: a dead letter naming it, nothing delivered anywhere
    expect(sink.tally.count('dead_letter')).toBe(1);
    const letter = await deadLetterOf(config, 'events');
    expect(letter).toMatchObject({ error_class: 'ConnectionUnavailableError', error_code: 'connection_unknown' });
    expect(letter.error_message).toMatch(/"conn-x" is not known/);
  }, 240_000);

  it.each([429, 503] as const)(
    'a %s storm on one account parks only its records; once it answers again a probe lands them, 0 lost 0 doubled',
    async (status) => {
      const config = sinkConfig();
      proxy = await new FlakyProxy(emulator.url, status).listen();
      const directory = new StaticConnections([
        connection('a', emulator.url),
        connection('b', emulator.url),
        connection('c', proxy.url),
      ]);
      // one of c's events Klaviyo refuses for good: dead-lettered from the parked topic, into klaviyo.events.v1.dlq
      const refused = event('c', 7).unique_id;
      emulator.faults.rejectEvent(refused, { times: 1000, detail: 'invalid event' });
      await produce(config, interleaved());
      runner = await createSinkRunner(config, { connections: directory });
      await runner.start();
      const sink = runner;
      await waitFor(
        () => uniqueIds(emulator, ACCOUNTS.a).length === EVENTS && uniqueIds(emulator, ACCOUNTS.b).length === EVENTS,
        { what: 'every event of the two healthy accounts', timeoutMs: 90_000 },
      );
      expect(uniqueIds(emulator, ACCOUNTS.c)).toHaveLength(0);
      await waitFor(() => sink.connections().find((x) => x.connection === 'conn-c')?.circuit === 'open', {
        what: "the third account's circuit open",
        timeoutMs: 30_000,
      });
      expect(sink.connections().find((x) => x.connection === 'conn-c')!.reason).toMatch(new RegExp(String(status)));
      expect(sink.isReady).toBe(true);
      const failedBefore = proxy.failed;
      // parked: the failing account is probed (one request at a time), not hammered
      await new Promise((r) => setTimeout(r, 3000));
      expect(proxy.failed - failedBefore).toBeLessThanOrEqual(6);

      proxy.failing = null; // the account answers again
      await waitFor(
        () => uniqueIds(emulator, ACCOUNTS.c).length >= EVENTS - 1 && sink.tally.count('dead_letter') === 1,
        { what: "the third account's events after it recovers", timeoutMs: 90_000 },
      );
      await waitFor(() => sink.connections().every((x) => x.healthy), {
        what: 'every connection healthy',
        timeoutMs: 20_000,
      });
      for (const n of ['a', 'b'] as const)
        expectExactlyOnce(
          emulator,
          n,
          all(n).map((e) => e.unique_id),
        );
      expectExactlyOnce(
        emulator,
        'c',
        all('c')
          .map((e) => e.unique_id)
          .filter((u) => u !== refused),
      );
      // refused for good after it was parked: dead-lettered as its original, into klaviyo.events.v1.dlq
      const letter = await deadLetterOf(config, 'events');
      expect(letter.original_topic).toBe(topicName('events', config.kafka.topicPrefix));
      expect(letter.error_class).toBe('KlaviyoRejectedError');
      expect(letter.attempts).toBeGreaterThan(1);
      expect((await new AvroCodec(config.kafka).decodeAs('events', Buffer.from(letter.value!))).unique_id).toBe(
        refused,
      );
    },
    240_000,
  );
});
