import type { Config } from '@iks/config';
import { rmSync } from 'node:fs';
import type { KlaviyoDeletionRecord, KlaviyoEventRecord } from '@iks/domain';
import {
  AvroCodec,
  createKafka,
  deletionToAvro,
  dlqName,
  deadLetterFromAvro,
  eventToAvro,
  topicName,
} from '@iks/kafka';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../tools/klaviyo-emulator/src';
import { TopicTap } from '../../../test/support/raw-topic';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import type { SinkRunner, SinkRunOptions } from './sink.runner';
import { createSinkRunner } from './sink-stage.module';

const API_KEY = 'pk_test_sink_0123456789';

function event(i: number, extra: Partial<KlaviyoEventRecord> = {}): KlaviyoEventRecord {
  return {
    kind: 'event',
    metric: i % 2 ? 'Conversation Created' : 'Ticket Created',
    profile: { email: `person${i % 50}@example.com` },
    properties: { 'Conversation ID': String(i), Tags: ['vip'] },
    time: '2026-01-02T03:04:05Z',
    unique_id: `intercom:conversation:${i}:created`,
    backfill: false,
    intercom_contact_id: `c${i % 50}`,
    source_notification_id: `notif_${i}`,
    source_topic: 'conversation.user.created',
    ...extra,
  };
}

async function produceEvents(config: Config, records: KlaviyoEventRecord[]): Promise<void> {
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  await codec.registerAll();
  const topic = topicName('events', config.kafka.topicPrefix);
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < records.length; i += 500) {
    const chunk = records.slice(i, i + 500);
    await producer.send({
      topic,
      acks: -1,
      messages: await Promise.all(
        chunk.map(async (r) => ({ key: r.intercom_contact_id, value: await codec.encode(topic, eventToAvro(r)) })),
      ),
    });
  }
  await producer.disconnect();
}

async function produceDeletions(config: Config, contactIds: string[]): Promise<void> {
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  await codec.registerAll();
  const topic = topicName('deletions', config.kafka.topicPrefix);
  const producer = kafka.producer();
  await producer.connect();
  const records: KlaviyoDeletionRecord[] = contactIds.map((id) => ({
    kind: 'deletion',
    intercom_contact_id: id,
    email: `${id}@example.com`,
    requested_at: Date.now(),
    source_notification_id: `notif_del_${id}`,
  }));
  await producer.send({
    topic,
    acks: -1,
    messages: await Promise.all(
      records.map(async (r) => ({ key: r.intercom_contact_id, value: await codec.encode(topic, deletionToAvro(r)) })),
    ),
  });
  await producer.disconnect();
}

/** Whether the sink's group committed every record of the events and deletions topics. */
async function committedToEnd(config: Config): Promise<boolean> {
  const admin = createKafka(config.kafka).admin();
  await admin.connect();
  try {
    for (const key of ['events', 'deletions'] as const) {
      const topic = topicName(key, config.kafka.topicPrefix);
      const [high, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: config.sink.groupId, topics: [topic] }),
      ]);
      for (const p of high) {
        const c = committed.partitions.find((x) => x.partition === p.partition)?.offset ?? '-1';
        if (Number(p.high) > 0 && Number(c) < Number(p.high)) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

function sinkConfig(emulator: KlaviyoEmulator, env: Record<string, string> = {}): Config {
  return testConfig('sink', {
    KLAVIYO_API_KEY: API_KEY,
    KLAVIYO_BASE_URL: emulator.url,
    SINK_BATCH_MAX_WAIT_MS: '50',
    SINK_RETRY_MAX_MS: '120000',
    ...env,
  });
}

const stored = (emulator: KlaviyoEmulator) => emulator.store.events.length;

describe('sink → Klaviyo emulator (real broker)', () => {
  let emulator: KlaviyoEmulator;
  const runners: SinkRunner[] = [];
  const start = async (config: Config, run: SinkRunOptions = {}) => {
    const r = await createSinkRunner(config, { run });
    runners.push(r);
    await r.start();
    return r;
  };

  beforeEach(async () => {
    emulator = await startKlaviyoEmulator({ port: 0 });
  });
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop();
    await emulator.close();
  });

  it('delivers every event once, as valid bulk requests within the rate windows', async () => {
    const config = sinkConfig(emulator);
    await produceEvents(
      config,
      Array.from({ length: 1200 }, (_, i) => event(i)),
    );
    await start(config);
    await waitFor(() => stored(emulator) === 1200, { what: '1200 events in the emulator', timeoutMs: 60_000 });
    const ids = new Set(emulator.store.events.map((e) => e.unique_id));
    expect(ids.size).toBe(1200);
    expect(emulator.store.events.every((e) => e.via === 'bulk_create_events')).toBe(true);
    expect(emulator.store.statusCounts['400'] ?? 0).toBe(0);
    const bulk = emulator.store.windowPeaks().seen.bulk_create_events;
    expect(bulk.perSecond).toBeGreaterThan(0);
    expect(bulk.perSecond).toBeLessThanOrEqual(10);
    expect(bulk.perMinute).toBeLessThanOrEqual(150);
    expect(emulator.store.throttled).toBe(0);
  });

  it('rides out a 429 storm and a 5xx spell with nothing lost', async () => {
    const config = sinkConfig(emulator);
    // a storm in time, and a few 429s by count: a slow start on a loaded machine must not miss the storm
    emulator.faults.storm429(1500).next429(3).next500(3);
    await produceEvents(
      config,
      Array.from({ length: 300 }, (_, i) => event(i)),
    );
    await start(config);
    await waitFor(() => stored(emulator) === 300, { what: '300 events after the faults', timeoutMs: 60_000 });
    expect(emulator.store.throttled).toBeGreaterThan(0);
    expect(emulator.store.statusCounts['500']).toBeGreaterThanOrEqual(1);
    expect(new Set(emulator.store.events.map((e) => e.unique_id)).size).toBe(300);
  });

  it('dead-letters the one event Klaviyo refuses, with its error, and delivers the rest', async () => {
    const config = sinkConfig(emulator);
    emulator.faults.rejectEvent('intercom:conversation:7:created', {
      times: 100,
      detail: 'phone_number is not a valid phone number',
    });
    const tap = new TopicTap(createKafka(config.kafka), new AvroCodec(config.kafka), `${config.kafka.topicPrefix}tap`);
    await produceEvents(
      config,
      Array.from({ length: 50 }, (_, i) => event(i)),
    );
    await start(config);
    await tap.start([dlqName(topicName('events', config.kafka.topicPrefix))]);
    try {
      const letters = await waitFor(
        () => tap.of(dlqName(topicName('events', config.kafka.topicPrefix))).length === 1 && tap.records,
        { what: 'the dead letter', timeoutMs: 60_000 },
      );
      const letter = deadLetterFromAvro([...letters.values()][0][0].value);
      expect(letter.stage).toBe('sink');
      expect(letter.error_class).toBe('KlaviyoRejectedError');
      expect(letter.error_message).toMatch(/400/);
      expect(letter.error_message).toMatch(/phone_number is not a valid phone number/);
      expect((await new AvroCodec(config.kafka).decodeAs('events', Buffer.from(letter.value!))).unique_id).toBe(
        'intercom:conversation:7:created',
      );
      await waitFor(() => stored(emulator) === 49, { what: 'the other 49', timeoutMs: 30_000 });
      expect(emulator.store.events.some((e) => e.unique_id === 'intercom:conversation:7:created')).toBe(false);
    } finally {
      await tap.stop();
    }
  });

  it("a crash between Klaviyo's 2xx and the offset commit re-sends, and Klaviyo keeps one copy", async () => {
    const config = sinkConfig(emulator);
    await produceEvents(
      config,
      Array.from({ length: 100 }, (_, i) => event(i)),
    );
    let crashes = 0;
    const first = await start(config, {
      beforeCommit: async () => {
        crashes++;
        throw new Error('simulated crash before commit');
      },
    });
    await waitFor(() => crashes >= 2 && stored(emulator) === 100, {
      what: 'delivery without commit',
      timeoutMs: 60_000,
    });
    await first.stop();
    runners.splice(runners.indexOf(first), 1);
    const sentBefore = emulator.store.requestLog().length;
    await start(config); // the restarted sink: same group, nothing was committed
    await waitFor(
      () => emulator.store.requestLog().length > sentBefore && emulator.store.duplicateEventsIgnored >= 100,
      { what: 'the re-send', timeoutMs: 60_000 },
    );
    expect(stored(emulator)).toBe(100);
    expect(new Set(emulator.store.events.map((e) => e.unique_id)).size).toBe(100);
  });

  it('a deleted person stays deleted across restarts: the next start reads only new deletions, a lost store is rebuilt', async () => {
    const config = sinkConfig(emulator);
    const skipped = (r: SinkRunner) => r.tally.countReason('skip', 'contact_deleted');
    const storedIds = () => new Set(emulator.store.events.map((e) => e.unique_id));
    await produceDeletions(config, ['c3', 'c7']);
    await produceEvents(
      config,
      Array.from({ length: 50 }, (_, i) => event(i)),
    ); // contacts c0..c49
    const first = await start(config);
    expect(first.tombstones!.replayed).toBe(2);
    await waitFor(() => committedToEnd(config), { what: 'the first run committed everything', timeoutMs: 30_000 });
    expect(stored(emulator)).toBe(48);
    expect(skipped(first)).toBe(2);
    expect(
      storedIds().has('intercom:conversation:3:created') || storedIds().has('intercom:conversation:7:created'),
    ).toBe(false);
    await first.stop();
    runners.splice(runners.indexOf(first), 1);

    await produceDeletions(config, ['c9']);
    await produceEvents(config, [event(53), event(59), event(61)]); // c3, c9 (deleted), c11
    const second = await start(config);
    // resumed from the stored offsets: only the one new deletion was read, and all three are known
    expect(second.tombstones!.replayed).toBe(1);
    expect(['c3', 'c7', 'c9', 'c11'].map((c) => second.deletedContacts!.has(c))).toEqual([true, true, true, false]);
    await waitFor(() => committedToEnd(config), { what: 'the second run committed everything', timeoutMs: 30_000 });
    expect(skipped(second)).toBe(2);
    expect(storedIds().has('intercom:conversation:61:created')).toBe(true);
    expect(stored(emulator)).toBe(49);
    await second.stop();
    runners.splice(runners.indexOf(second), 1);

    // the store lost (a new volume): rebuilt from the topic, nothing forgotten
    rmSync(config.sink.deletedContactsPath, { recursive: true, force: true });
    const third = await start(config);
    expect(third.tombstones!.replayed).toBe(3);
    expect(['c3', 'c7', 'c9', 'c11'].map((c) => third.deletedContacts!.has(c))).toEqual([true, true, true, false]);
  });

  it('a replay from the beginning in its own group adds no new events', async () => {
    const config = sinkConfig(emulator);
    await produceEvents(
      config,
      Array.from({ length: 80 }, (_, i) => event(i, { backfill: i % 4 === 0 })),
    );
    await start(config);
    await waitFor(() => stored(emulator) === 80, { what: '80 events', timeoutMs: 60_000 });
    expect(emulator.store.events.filter((e) => e.backfill)).toHaveLength(20);
    await start(config, { groupId: `${config.kafka.topicPrefix}replay`, mode: 'replay' });
    await waitFor(() => emulator.store.duplicateEventsIgnored >= 80, {
      what: 'the replay to reach Klaviyo',
      timeoutMs: 60_000,
    });
    expect(stored(emulator)).toBe(80);
  });
});
