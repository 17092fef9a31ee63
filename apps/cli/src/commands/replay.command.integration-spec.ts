import type { Config } from '@iks/config';
import type { KlaviyoEventRecord } from '@iks/domain';
import { AvroCodec, createKafka, ensureTopics, eventFromAvro, eventToAvro, topicName } from '@iks/kafka';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../../tools/klaviyo-emulator/src';
import { fixture, produceRaw, rawFromEnvelope, TopicTap, topicOf } from '../../../../test/support/raw-topic';
import { testConfig } from '../../../../test/support/test-config';
import { waitFor } from '../../../../test/support/wait-for';
import { createSinkRunner, type SinkRunner } from '@iks/sink';
import { NO_INTERCOM_API } from '@iks/directory';
import { runReplayCommand } from './replay.command';
import { prepareFreshTopics } from '../../../../tools/support/fresh-topics';

const API_KEY = 'pk_test_replay_0123456789';
// Record timestamps an hour ago: within the broker's 7-day retention. (Timestamps older than the
// retention are deleted by the broker's first retention check, ~30 s after a fresh start.)
// several in-process replays per test, each joining a fresh consumer group
jest.setTimeout(240_000);

const T0 = Math.floor((Date.now() - 3600_000) / 1000) * 1000;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const t0 = Date.now();
  const trace = (l: string) => process.env.REPLAY_TRACE && process.stderr.write(`+${Date.now() - t0}ms ${l}\n`);
  return {
    io: {
      stdout: (l: string) => {
        trace(l);
        out.push(l);
      },
      stderr: (l: string) => {
        trace(l);
        err.push(l);
      },
    },
    out,
    err,
    text: () => [...out, ...err].join('\n'),
  };
}

function event(i: number): KlaviyoEventRecord {
  return {
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
  };
}

/** Events on partition 0, the i-th with record timestamp T0 + i seconds. */
async function produceEvents(config: Config, ids: number[]): Promise<void> {
  const kafka = createKafka(config.kafka);
  const codec = await prepareFreshTopics(config);
  const topic = topicName('events', config.kafka.topicPrefix);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: await Promise.all(
      ids.map(async (i) => ({
        partition: 0,
        key: `c${i}`,
        timestamp: String(T0 + i * 1000),
        value: await codec.encode(topic, eventToAvro(event(i))),
      })),
    ),
  });
  await producer.disconnect();
}

const sinkConfig = (emulator: KlaviyoEmulator) =>
  testConfig('cli', {
    KLAVIYO_API_KEY: API_KEY,
    KLAVIYO_BASE_URL: emulator.url,
    SINK_BATCH_MAX_WAIT_MS: '50',
    SINK_RETRY_MAX_MS: '60000',
  });
const noTty = { isTTY: false, ask: async () => 'n' };
const quiet = { prompt: noTty, onInterrupt: () => () => undefined, pollMs: 100 };
const storedIds = (emulator: KlaviyoEmulator) => emulator.store.events.map((e) => e.unique_id).sort();
const ids = (ns: number[]) => ns.map((i) => `intercom:conversation:${i}:created`).sort();

/** Consumer groups of a replay (`<group>.replay.…` and its followers') still on the cluster. */
async function replayGroupsLeft(config: Config): Promise<string[]> {
  const admin = createKafka(config.kafka).admin();
  await admin.connect();
  try {
    return (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((id) => id.startsWith(config.kafka.topicPrefix) && id.includes('.replay.'));
  } finally {
    await admin.disconnect();
  }
}

describe('cli replay (real broker, Klaviyo emulator)', () => {
  let emulator: KlaviyoEmulator;
  const runners: SinkRunner[] = [];

  beforeEach(async () => {
    emulator = await startKlaviyoEmulator({ port: 0 });
  });
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop();
    await emulator.close();
  });

  it('a replay from the beginning after delivery only fills gaps: Klaviyo keeps one copy of each event', async () => {
    const config = sinkConfig(emulator);
    const n = 30;
    await produceEvents(
      config,
      Array.from({ length: n }, (_, i) => i),
    );
    const live = await createSinkRunner(config);
    runners.push(live);
    await live.start();
    await waitFor(() => emulator.store.events.length === n, { what: `${n} events delivered live`, timeoutMs: 60_000 });
    const before = emulator.store.duplicateEventsIgnored;

    const c = capture();
    const code = await runReplayCommand(
      ['--topic', `${config.kafka.topicPrefix}klaviyo.events.v1`, '--from-beginning', '--yes'],
      config,
      c.io,
      quiet,
    );
    expect(c.text()).toMatch(/separate group .*\.replay\./);
    expect(code).toBe(0);
    expect(c.out).toContain(`plan: partition 0 from offset 0 to ${n} (${n} records)`);
    expect(c.out).toContain(`plan: ${n} record(s) in total`);
    expect(c.out.find((l) => l.startsWith('replay done'))).toContain(`${n} replayed, ${n} delivered, 0 dead-lettered`);
    expect(emulator.store.events).toHaveLength(n);
    expect(emulator.store.duplicateEventsIgnored).toBeGreaterThanOrEqual(before + n);
    expect(await replayGroupsLeft(config)).toEqual([]); // its group and its sink's tombstones group are deleted
  });

  it('--from-offset replays from that offset on; --from-time from the first record at or after that time', async () => {
    const config = sinkConfig(emulator);
    await produceEvents(config, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const c = capture();
    expect(
      await runReplayCommand(['--topic', 'klaviyo.events.v1', '--from-offset', '0:6', '--yes'], config, c.io, quiet),
    ).toBe(0);
    expect(c.out).toContain('plan: partition 0 from offset 6 to 10 (4 records)');
    expect(c.out.join('\n')).not.toMatch(/plan: partition [12]/);
    await waitFor(() => emulator.store.events.length === 4, { what: 'events 6-9' });
    expect(storedIds(emulator)).toEqual(ids([6, 7, 8, 9]));

    const d = capture();
    const from = new Date(T0 + 2500).toISOString();
    expect(
      await runReplayCommand(['--topic', 'klaviyo.events.v1', '--from-time', from, '--yes'], config, d.io, quiet),
    ).toBe(0);
    expect(d.out).toContain('plan: partition 0 from offset 3 to 10 (7 records)');
    expect(storedIds(emulator)).toEqual(ids([3, 4, 5, 6, 7, 8, 9]));
    expect(emulator.store.duplicateEventsIgnored).toBe(4);

    // --to-time bounds the plan: the first record at or after it is the (exclusive) end.
    const e = capture();
    const code = await runReplayCommand(
      [
        '--topic',
        'klaviyo.events.v1',
        '--from-time',
        new Date(T0).toISOString(),
        '--to-time',
        new Date(T0 + 2000).toISOString(),
        '--yes',
      ],
      config,
      e.io,
      quiet,
    );
    expect(code).toBe(0);
    expect(e.out).toContain('plan: partition 0 from offset 0 to 2 (2 records)');
    // the sink stops at the planned end: offsets 0 and 1 only (new to Klaviyo), 2..9 not re-sent
    expect(e.out.join('\n')).not.toMatch(/past the planned end/);
    expect(storedIds(emulator)).toEqual(ids([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).filter((id) => id !== ids([2])[0]));
    expect(emulator.store.duplicateEventsIgnored).toBe(4);
  });

  it('prints the plan and refuses to start without a terminal and without --yes', async () => {
    const config = sinkConfig(emulator);
    await produceEvents(config, [0, 1]);
    const c = capture();
    expect(await runReplayCommand(['--topic', 'klaviyo.events.v1', '--from-beginning'], config, c.io, quiet)).toBe(2);
    expect(c.out).toContain('plan: 2 record(s) in total');
    expect(c.err.join('\n')).toContain('pass --yes');
    expect(emulator.store.requestLog()).toHaveLength(0);
  });

  it("--group resets a stopped group's committed offsets; a group with members is refused", async () => {
    const config = sinkConfig(emulator);
    await produceEvents(config, [0, 1, 2, 3, 4, 5, 6, 7]);
    const topic = topicOf(config, 'events');
    const kafka = createKafka(config.kafka);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const live = await createSinkRunner(config);
      runners.push(live);
      await live.start();
      await waitFor(() => emulator.store.events.length === 8, { what: '8 events delivered live' });
      const committed = async () => {
        const [t] = await admin.fetchOffsets({ groupId: config.sink.groupId, topics: [topic] });
        return Object.fromEntries(t.partitions.map((p) => [p.partition, p.offset]));
      };
      await waitFor(async () => (await committed())[0] === '8', { what: 'the live commit' });

      const busy = capture();
      expect(
        await runReplayCommand(
          ['--topic', 'klaviyo.events.v1', '--from-beginning', '--group', config.sink.groupId, '--yes'],
          config,
          busy.io,
          quiet,
        ),
      ).toBe(1);
      expect(busy.err.join('\n')).toContain(
        `stop ${config.sink.groupId} first, or omit --group to replay through a separate group`,
      );

      const typo = capture();
      expect(
        await runReplayCommand(
          ['--topic', 'klaviyo.events.v1', '--from-beginning', '--group', `${config.sink.groupId}-typo`, '--yes'],
          config,
          typo.io,
          quiet,
        ),
      ).toBe(2);
      expect(typo.err.join('\n')).toContain(`--group ${config.sink.groupId}-typo does not exist`);

      await live.stop();
      runners.splice(0);
      const c = capture();
      expect(
        await runReplayCommand(
          ['--topic', 'klaviyo.events.v1', '--from-offset', '0:3', '--group', config.sink.groupId, '--yes'],
          config,
          c.io,
          quiet,
        ),
      ).toBe(0);
      expect(c.out[0]).toMatch(/resetting the offsets of the stopped group/);
      expect(c.out).toContain(`plan: group ${config.sink.groupId} partition 0 committed 8 -> 3`);
      expect((await committed())[0]).toBe('3');

      const t = capture();
      expect(
        await runReplayCommand(
          [
            '--topic',
            'klaviyo.events.v1',
            '--from-time',
            new Date(T0 + 5000).toISOString(),
            '--group',
            config.sink.groupId,
            '--yes',
          ],
          config,
          t.io,
          quiet,
        ),
      ).toBe(0);
      expect(await committed()).toMatchObject({ 0: '5' });

      // The stopped app, started again, re-reads from there (and Klaviyo keeps one copy).
      const before = emulator.store.duplicateEventsIgnored;
      const again = await createSinkRunner(config);
      runners.push(again);
      await again.start();
      await waitFor(() => emulator.store.duplicateEventsIgnored === before + 3, { what: 'events 5-7 re-sent' });
      expect(emulator.store.events).toHaveLength(8);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('cli replay of the raw topic (re-runs the transformer mapping)', () => {
  it('maps the raw notifications again through its own group, then stops', async () => {
    const config = testConfig('cli', { CONTACT_RETRY_INITIAL_MS: '300', CONTACT_WAIT_MAX_MS: '2000' });
    const kafka = createKafka(config.kafka);
    const codec = new AvroCodec(config.kafka);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, config.kafka);
    await admin.disconnect();
    await codec.registerAll();
    await produceRaw(kafka, codec, config, [
      rawFromEnvelope(fixture('contact.user.created')),
      rawFromEnvelope(fixture('conversation.user.created')),
    ]);
    const tap = new TopicTap(kafka, codec, `${config.kafka.topicPrefix}tap`);
    await tap.start([topicOf(config, 'events')]);
    try {
      const c = capture();
      const code = await runReplayCommand(
        ['--topic', 'intercom.notifications.v1', '--from-beginning', '--yes'],
        config,
        c.io,
        { ...quiet, intercomSource: NO_INTERCOM_API },
      );
      expect(c.text()).toMatch(/in-process transformer replay/);
      expect(code).toBe(0);
      expect(c.out.find((l) => l.startsWith('replay done'))).toMatch(/2 replayed, \d+ record\(s\) produced/);
      const events = await waitFor(
        () => tap.of(topicOf(config, 'events')).length >= 1 && tap.of(topicOf(config, 'events')),
        { what: 'the re-mapped event' },
      );
      expect(eventFromAvro(events[0].value).unique_id).toBe('intercom:conversation:1911149811:created');
      expect(await replayGroupsLeft(config)).toEqual([]); // its group and its transformer's directory group are deleted
    } finally {
      await tap.stop();
    }
  });
});
