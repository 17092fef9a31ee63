import type { Config } from '@iks/config';
import { StaticConnections } from '@iks/connections';
import type { KlaviyoEventRecord } from '@iks/domain';
import {
  createKafka,
  createProducer,
  DeadLetterPublisher,
  dlqName,
  eventToAvro,
  topicName,
  type AvroCodec,
} from '@iks/kafka';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../../tools/klaviyo-emulator/src';
import { prepareFreshTopics } from '../../../../tools/support/fresh-topics';
import { testConnection } from '../../../../test/support/connections';
import { TopicTap } from '../../../../test/support/raw-topic';
import { testConfig } from '../../../../test/support/test-config';
import { waitFor } from '../../../../test/support/wait-for';
import { runDlqCommand } from './dlq.command';
import { runReplayCommand } from './replay.command';

jest.setTimeout(180_000);

const API_KEY = 'pk_test_replay_conn_0123';
const T0 = Math.floor((Date.now() - 3600_000) / 1000) * 1000;
const noTty = { isTTY: false, ask: async () => 'n' };
const connections = new StaticConnections([testConnection('acme', 'wsacme')]);

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) },
    out,
    err,
    text: () => [...out, ...err].join('\n'),
  };
}

/** The i-th event; of acme from 100 on (its connection_id and `acme/` key). */
function event(i: number): { key: string; record: KlaviyoEventRecord } {
  const acme = i >= 100;
  return {
    key: acme ? `acme/c${i}` : `c${i}`,
    record: {
      kind: 'event',
      metric: 'Conversation Created',
      profile: { email: `person${i}@example.com` },
      properties: { 'Conversation ID': String(i) },
      time: '2026-01-02T03:04:05Z',
      unique_id: `intercom:conversation:${i}:created`,
      backfill: false,
      intercom_contact_id: `c${i}`,
      source_notification_id: `notif_${i}`,
      source_topic: 'conversation.user.created',
      ...(acme ? { connection_id: 'acme' } : {}),
    },
  };
}

async function encoded(codec: AvroCodec, topic: string, i: number) {
  const e = event(i);
  return { key: e.key, value: await codec.encode(topic, eventToAvro(e.record)) };
}

describe("replay and dlq --connection: only that connection's records (real broker, Klaviyo emulator)", () => {
  let emulator: KlaviyoEmulator;
  let config: Config;
  let codec: AvroCodec;

  beforeAll(async () => {
    emulator = await startKlaviyoEmulator({ port: 0 });
    config = testConfig('cli', {
      KLAVIYO_API_KEY: API_KEY,
      KLAVIYO_BASE_URL: emulator.url,
      SINK_BATCH_MAX_WAIT_MS: '50',
      SINK_RETRY_MAX_MS: '60000',
    });
    codec = await prepareFreshTopics(config);
  });
  afterAll(async () => {
    await emulator.close();
  });

  it("replay --connection default re-delivers the default connection's events only; the others' are passed over, not dead-lettered", async () => {
    const topic = topicName('events', config.kafka.topicPrefix);
    // interleaved on one partition, acme's last: the replay must commit past them to finish
    const order = [0, 100, 1, 101, 2, 102, 3, 103];
    const producer = createProducer(createKafka(config.kafka));
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: await Promise.all(
        order.map(async (i, n) => ({
          partition: 0,
          timestamp: String(T0 + n * 1000),
          ...(await encoded(codec, topic, i)),
        })),
      ),
    });
    await producer.disconnect();

    const c = capture();
    const code = await runReplayCommand(
      ['--topic', topic, '--from-beginning', '--connection', 'default', '--yes'],
      config,
      c.io,
      { prompt: noTty, onInterrupt: () => () => undefined, pollMs: 100, connections },
    );
    expect(c.err).toEqual([]);
    expect(code).toBe(0);
    expect(c.out).toContain(`plan: 8 record(s) in total`);
    expect(c.out).toContain(
      'plan: 4 record(s) of connection "default" replayed; 4 of other connections skipped (passed over, not delivered)',
    );
    expect(c.out.find((l) => l.startsWith('replay done'))).toMatch(/4 replayed, 4 delivered, 0 dead-lettered/);
    expect(emulator.store.events.map((e) => e.unique_id).sort()).toEqual(
      [0, 1, 2, 3].map((i) => `intercom:conversation:${i}:created`),
    );
    // acme's events were neither delivered nor dead-lettered as of an unknown connection
    const admin = createKafka(config.kafka).admin();
    await admin.connect();
    const dlqMarks = await admin.fetchTopicOffsets(dlqName(topic));
    await admin.disconnect();
    expect(dlqMarks.reduce((n, m) => n + Number(m.high) - Number(m.low), 0)).toBe(0);

    // a connection with nothing in the range: nothing to replay
    const none = capture();
    expect(
      await runReplayCommand(
        [
          '--topic',
          topic,
          '--from-offset',
          '0:0',
          '--to-time',
          new Date(T0 + 500).toISOString(),
          '--connection',
          'acme',
          '--yes',
        ],
        config,
        none.io,
        { prompt: noTty, onInterrupt: () => () => undefined, pollMs: 100, connections },
      ),
    ).toBe(0);
    expect(none.out).toContain(
      'plan: 0 record(s) of connection "acme" replayed; 1 of other connections skipped (passed over, not delivered)',
    );
    expect(none.out).toContain('replay: nothing of connection "acme" to replay');

    const unknown = capture();
    expect(
      await runReplayCommand(
        ['--topic', topic, '--from-beginning', '--connection', 'nope', '--yes'],
        config,
        unknown.io,
        {
          prompt: noTty,
          connections,
        },
      ),
    ).toBe(2);
    expect(unknown.err.join('\n')).toMatch(/^replay: unknown connection "nope" \(known: acme\)$/);
  });

  it("dlq list and reprocess --connection: that connection's letters only (by connection_id, by key when undecodable); progress kept apart", async () => {
    const topic = topicName('profiles', config.kafka.topicPrefix);
    const events = topicName('events', config.kafka.topicPrefix);
    const dlq = dlqName(events);
    const producer = createProducer(createKafka(config.kafka));
    await producer.connect();
    const publisher = new DeadLetterPublisher(producer, codec);
    const refused = (m: string) => Object.assign(new Error(m), { name: 'KlaviyoRejectedError', code: 'invalid' });
    let offset = 0;
    const letter = async (message: { key: string; value: Buffer }, why: string) =>
      publisher.publish({
        topic: events,
        partition: 0,
        stage: 'sink',
        error: refused(why),
        message: { ...message, key: Buffer.from(message.key), offset: String(offset++), headers: {} },
      });
    await letter(await encoded(codec, events, 200), 'acme one');
    await letter(await encoded(codec, events, 10), 'default one');
    await letter(await encoded(codec, events, 201), 'acme two');
    await letter({ key: 'acme/c202', value: Buffer.from('not avro') }, 'acme undecodable');
    await letter(await encoded(codec, events, 11), 'default two');
    await producer.disconnect();
    expect(topic).not.toBe(events);

    const l = capture();
    expect(await runDlqCommand(['list', events, '--connection', 'acme'], config, l.io, { connections })).toBe(0);
    const rows = l.out.filter((x) => x.startsWith(`${dlq}:`));
    expect(rows.map((x) => /reason=(.*)$/.exec(x)![1]).sort()).toEqual(['acme one', 'acme two', 'acme undecodable']);
    expect(l.out).toContain(`total\t3 dead letter(s) of connection "acme" in ${dlq} (2 of other connections skipped)`);
    const j = capture();
    expect(
      await runDlqCommand(['list', events, '--connection', 'default', '--json'], config, j.io, { connections }),
    ).toBe(0);
    expect(JSON.parse(j.out.at(-1)!)).toMatchObject({ total: 2, connection: 'default', other_connections: 3 });

    const tap = new TopicTap(
      createKafka(config.kafka),
      { decode: async (b: Buffer) => b } as unknown as AvroCodec,
      `${config.kafka.topicPrefix}tap-dlq`,
    );
    await tap.start([events]);
    try {
      const before = await waitFor(() => tap.of(events).length >= 8 && tap.of(events).length, {
        what: 'the events of the replay test',
      });
      const p = capture();
      expect(
        await runDlqCommand(['reprocess', events, '--connection', 'acme', '--yes'], config, p.io, {
          prompt: noTty,
          connections,
        }),
      ).toBe(0);
      expect(p.out).toContain(
        `dlq reprocess: 2 dead letter(s) of other connections skipped (not sent, left in ${dlq})`,
      );
      expect(p.out).toContain(`dlq reprocess: sent 3 dead letter(s) back (${events}: 3)`);
      await waitFor(() => tap.of(events).length >= before + 3, { what: 'the resent letters' });
      await new Promise((r) => setTimeout(r, 500));
      const resent = tap.of(events).slice(before);
      expect(resent.map((r) => r.key).sort()).toEqual(['acme/c200', 'acme/c201', 'acme/c202']);

      // its progress is its own: again, nothing new for acme; the default connection's still to send
      const again = capture();
      expect(
        await runDlqCommand(['reprocess', events, '--connection', 'acme', '--yes'], config, again.io, {
          prompt: noTty,
          connections,
        }),
      ).toBe(0);
      expect(again.out.join('\n')).toMatch(
        /no dead letters of connection "acme" in .* new since the last reprocess \(group iks-dlq-reprocess\..*\.connection\.acme\); sent 0/,
      );
      const d = capture();
      expect(
        await runDlqCommand(['reprocess', events, '--connection', 'default', '--yes'], config, d.io, {
          prompt: noTty,
          connections,
        }),
      ).toBe(0);
      expect(d.out).toContain(`dlq reprocess: sent 2 dead letter(s) back (${events}: 2)`);
      await waitFor(() => tap.of(events).length >= before + 5, { what: "the default connection's letters" });
      expect(
        tap
          .of(events)
          .slice(before + 3)
          .map((r) => r.key)
          .sort(),
      ).toEqual(['c10', 'c11']);
    } finally {
      await tap.stop();
    }
  });
});
