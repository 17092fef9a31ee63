import { Registry } from 'prom-client';
import type { Config } from '@iks/config';
import type { KlaviyoEventRecord, RawNotification } from '@iks/domain';
import { NO_INTERCOM_API } from '@iks/directory';
import {
  AvroCodec,
  createKafka,
  createProducer,
  dlqName,
  prepareStage,
  deadLetterFromAvro,
  eventFromAvro,
  eventToAvro,
  topic,
  topicName,
  type TopicKey,
} from '@iks/kafka';
import { StageRuntime, type HandlerLookup, type StageBatch, type StageResult } from '@iks/stage';
import { createSinkRunner, type SinkRunner } from '@iks/sink';
import { createTransformerRunner, type TransformerRunner } from '@iks/transformer';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../tools/klaviyo-emulator/src';
import { PrivateBroker } from '../support/private-broker';
import { fixture, produceRaw, rawFromEnvelope, TopicTap, topicOf } from '../support/raw-topic';
import { freshConfig, testConfig } from '../support/test-config';
import { waitFor } from '../support/wait-for';

/** Issue #14, the stage runner's fault items, each against the real broker. */

function event(i: number): KlaviyoEventRecord {
  return {
    kind: 'event',
    metric: 'Conversation Created',
    profile: { email: `person${i % 7}@example.com` },
    properties: { 'Conversation ID': String(i) },
    time: '2026-01-02T03:04:05Z',
    unique_id: `intercom:conversation:${i}:created`,
    backfill: false,
    intercom_contact_id: `c${i % 7}`,
    source_notification_id: `notif_${i}`,
    source_topic: 'conversation.user.created',
  };
}

async function produceEvents(config: Config, records: readonly KlaviyoEventRecord[]): Promise<void> {
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  await codec.registerAll();
  const topic = topicName('events', config.kafka.topicPrefix);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: await Promise.all(
      records.map(async (r) => ({ key: r.intercom_contact_id, value: await codec.encode(topic, eventToAvro(r)) })),
    ),
  });
  await producer.disconnect();
}

/** The raw notification of conversation.user.created whose custom_attributes nest 6,000 objects deep (the body built as text: JSON.stringify cannot). */
function deepRaw(): ReturnType<typeof rawFromEnvelope> {
  const envelope = fixture('conversation.user.created');
  envelope.id = 'notif_deep_custom_attributes';
  envelope.data.item.id = '1911149899';
  envelope.data.item.custom_attributes = '__DEEP__';
  const raw = rawFromEnvelope(envelope);
  return { ...raw, body: raw.body.replace('"__DEEP__"', `${'{"a":'.repeat(6000)}1${'}'.repeat(6000)}`) };
}

describe("item 1: a 6,000-level body is one record's problem (transformer)", () => {
  const config = testConfig('transformer');
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  let runner: TransformerRunner;
  const tap = new TopicTap(kafka, codec, `${config.kafka.topicPrefix}tap`);
  const T = { events: topicOf(config, 'events'), rawDlq: dlqName(topicOf(config, 'notifications')) };

  beforeAll(async () => {
    runner = await createTransformerRunner(config, { intercomSource: NO_INTERCOM_API });
    await runner.start();
    await codec.registerAll();
    await tap.start(Object.values(T));
  });
  afterAll(async () => {
    await tap.stop();
    await runner.stop();
  });

  it('goes to intercom.notifications.v1.dlq with its reason; the notifications after it are mapped', async () => {
    const deep = deepRaw();
    expect(deep.body.length).toBeGreaterThan(36_000);
    const after = fixture('ticket.created');
    await produceRaw(kafka, codec, config, [
      rawFromEnvelope(fixture('contact.user.created')),
      rawFromEnvelope(fixture('contact.user.updated')),
      deep,
      rawFromEnvelope(fixture('conversation.user.created')),
      rawFromEnvelope(after),
    ]);
    const letters = await waitFor(() => tap.of(T.rawDlq).length >= 1 && tap.of(T.rawDlq), {
      what: 'the dead letter',
      timeoutMs: 30_000,
    });
    const letter = deadLetterFromAvro(letters[0].value);
    expect(letter).toMatchObject({
      stage: 'transformer',
      error_class: 'RangeError',
      retriable: false,
      original_topic: topicOf(config, 'notifications'),
    });
    expect(letter.error_message).toMatch(/call stack/i);
    expect((await codec.decodeAs('notifications', Buffer.from(letter.value!))).notification_id).toBe(
      'notif_deep_custom_attributes',
    );
    const events = await waitFor(() => tap.of(T.events).length >= 2 && tap.of(T.events), {
      what: 'the events after it',
      timeoutMs: 30_000,
    });
    expect(events.map((e) => eventFromAvro(e.value).unique_id).sort()).toEqual([
      'intercom:conversation:1911149811:created',
      'intercom:ticket:2189:created',
    ]);
    expect(tap.of(T.rawDlq)).toHaveLength(1);
    expect(runner.isReady).toBe(true);
  });
});

describe('sink faults (Klaviyo emulator)', () => {
  let emulator: KlaviyoEmulator;
  let runner: SinkRunner | undefined;
  let fatal: unknown[] = [];
  const start = async (env: Record<string, string>) => {
    const config = testConfig('sink', {
      KLAVIYO_API_KEY: 'pk_test_faults_0123',
      KLAVIYO_BASE_URL: emulator.url,
      SINK_BATCH_MAX_WAIT_MS: '50',
      SINK_RETRY_MAX_DELAY_MS: '1000',
      ...env,
    });
    runner = await createSinkRunner(config, { registry: new Registry(), onFatal: (e) => fatal.push(e) });
    await runner.start();
    return { config, runner };
  };
  beforeEach(async () => {
    emulator = await startKlaviyoEmulator({ port: 0, limits: false });
    fatal = [];
  });
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await emulator.close();
  });

  it('item 2: a 15 s 401 keeps the consumer, turns readiness red with the failure named, then delivers everything', async () => {
    const { config, runner: sink } = await start({});
    emulator.faults.refuseKey(15_000);
    const t0 = Date.now();
    await produceEvents(
      config,
      Array.from({ length: 40 }, (_, i) => event(i)),
    );
    const h = await waitFor(() => !sink.isReady && sink.health().consumers.find((c) => c.failing) && sink.health(), {
      what: 'readiness red',
      timeoutMs: 10_000,
    });
    expect(h.consumers.find((c) => c.failing)!.failing).toMatch(/401|refus|auth/i);
    expect(h.consumers.every((c) => c.running && !c.crashed)).toBe(true);
    expect(emulator.store.events).toHaveLength(0);
    await waitFor(() => emulator.store.events.length === 40, {
      what: 'all 40 delivered after the spell',
      timeoutMs: 60_000,
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(14_000);
    await waitFor(() => sink.isReady, { what: 'readiness green again', timeoutMs: 10_000 });
    expect(sink.tally.count('dead_letter')).toBe(0);
    expect(fatal).toEqual([]);
  }, 90_000);

  it('item 5: a stalled consumer (lag, no commit for longer than STAGE_STALL_READY_MS) is not ready, and ready again once it moves', async () => {
    const { config, runner: sink } = await start({ STAGE_STALL_READY_MS: '1000' });
    await waitFor(() => sink.isReady, { what: 'ready', timeoutMs: 20_000 });
    emulator.faults.delay(5, 6000); // Klaviyo answers, but slowly: no error, no progress
    await produceEvents(config, [event(1), event(2)]);
    const h = await waitFor(() => !sink.isReady && sink.health(), {
      what: 'readiness red while stalled',
      timeoutMs: 10_000,
    });
    const stalled = h.consumers.find((c) => c.lag > 0)!;
    expect(stalled).toMatchObject({ running: true, crashed: false, failing: null });
    expect(stalled.secondsSinceProgress).toBeGreaterThanOrEqual(1);
    await waitFor(() => emulator.store.events.length === 2 && sink.isReady, {
      what: 'delivered and ready',
      timeoutMs: 60_000,
    });
  }, 90_000);
});

describe('item 5: a consumer crash kafkajs will not restart from (private broker killed)', () => {
  const broker = new PrivateBroker();
  const available = PrivateBroker.available();
  afterAll(async () => broker.kill());

  (available ? it : it.skip)(
    'readiness and liveness turn red, crashed is reported and onFatal is called (the app exits 1)',
    async () => {
      await broker.start();
      const config = freshConfig('transformer', {}, 't', { KAFKA_BROKERS: broker.brokers });
      const kafka = createKafka(config.kafka);
      const codec = new AvroCodec(config.kafka);
      const producer = createProducer(kafka);
      await prepareStage(kafka, config.kafka, codec, producer);
      const fatal: unknown[] = [];
      const runtime = new StageRuntime({
        stage: 'transformer',
        kafka,
        producer,
        codec,
        registry: new Registry(),
        stallReadyMs: 60_000,
        stallLiveMs: 600_000,
        onFatal: (e) => fatal.push(e),
      });
      const handled: number[] = [];
      // a fresh broker loads its group coordinator after it answers metadata; with one retry the
      // consumer below would crash on "coordinator is loading" before the broker is ever killed
      const admin = kafka.admin();
      await admin.connect();
      await waitFor(
        () =>
          admin.describeGroups([`${config.kafka.topicPrefix}crash`]).then(
            () => true,
            () => false,
          ),
        { what: "the private broker's group coordinator", timeoutMs: 60_000 },
      );
      await admin.disconnect();
      await runtime.start(
        [
          {
            groupId: `${config.kafka.topicPrefix}crash`,
            topics: [{ topic: topic('notifications', config.kafka.topicPrefix) }],
            // what an orchestrator-managed consumer sees after kafkajs gives up: no restart in-process
            consumer: { retry: { retries: 1, initialRetryTime: 100, restartOnFailure: async () => false } },
          },
        ],
        ((key: TopicKey) =>
          key === 'notifications'
            ? async (b: StageBatch<RawNotification>): Promise<StageResult> => {
                handled.push(b.records.length);
                return { outcomes: b.records.map(() => ({ kind: 'done' as const, reason: 'ok' })) };
              }
            : undefined) as HandlerLookup,
      );
      await waitFor(() => runtime.health().ready, { what: 'ready on the private broker', timeoutMs: 60_000 }).catch(
        (e: Error) => {
          throw new Error(`${e.message}: ${JSON.stringify(runtime.health())}`);
        },
      );
      await broker.kill();
      const h = await waitFor(() => fatal.length > 0 && runtime.health(), { what: 'the crash', timeoutMs: 60_000 });
      expect(h.ready).toBe(false);
      expect(h.live).toBe(false);
      expect(h.consumers[0]).toMatchObject({ crashed: true, running: false });
      await runtime.stop();
      await producer.disconnect().catch(() => undefined);
    },
    150_000,
  );
});
