/**
 * A pipelined consumer (StageConsumerSpec.pipeline, the sink's) on the real broker: it fetches
 * while a released slice waits for its answers, commits each partition's slices in order, bounds
 * what is in flight, and commits nothing a stop cut short (read again by the next consumer).
 */
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import type { Config } from '@iks/config';
import type { KlaviyoEventRecord } from '@iks/domain';
import { AvroCodec, createKafka, createProducer, eventToAvro, prepareStage, topic, topicName } from '@iks/kafka';
import { eventRecord } from '../../klaviyo/src/__tests__/fixtures';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { StageRuntime } from './stage-runtime';
import type { HandlerLookup, StageBatch, StageConsumerSpec, StageResult, TopicHandler } from './stage.types';

/** Record i: its own person, contact and unique_id (the fixture's, with these three changed). */
const event = (i: number): KlaviyoEventRecord =>
  eventRecord({
    profile: { email: `person${i}@example.com` },
    unique_id: `intercom:conversation:${i}:created`,
    intercom_contact_id: `c${i}`,
  });

/** A handler call: its records' ids, and the gate its answer waits for. */
interface Call {
  readonly ids: string[];
  readonly open: () => void;
}

describe('pipelined stage consumer (real broker)', () => {
  let config: Config;
  let kafka: Kafka;
  let producer: Producer;
  let codec: AvroCodec;
  let group = 0;
  const runtimes: StageRuntime[] = [];

  beforeAll(async () => {
    config = testConfig('cli');
    kafka = createKafka(config.kafka);
    codec = new AvroCodec(config.kafka);
    producer = createProducer(kafka);
    await prepareStage(kafka, config.kafka, codec, producer);
  });

  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.stop()));
  });

  afterAll(async () => {
    await producer?.disconnect();
  });

  const eventsTopic = () => topicName('events', config.kafka.topicPrefix);

  async function produce(from: number, count: number): Promise<void> {
    const name = eventsTopic();
    await producer.send({
      topic: name,
      acks: -1,
      messages: await Promise.all(
        Array.from({ length: count }, async (_, k) => ({
          partition: 0,
          key: `c${from + k}`,
          value: await codec.encode(name, eventToAvro(event(from + k))),
        })),
      ),
    });
  }

  /** Each call is recorded; it releases the slice at once when `release` says so, and answers when its gate opens. */
  function gatedHandler(calls: Call[], release: boolean): TopicHandler<'events'> {
    return async (batch: StageBatch<KlaviyoEventRecord>): Promise<StageResult> => {
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      calls.push({ ids: batch.records.map((r) => r.value.unique_id), open });
      if (release) batch.release();
      while (batch.isRunning()) {
        const opened = await Promise.race([gate.then(() => true), new Promise((r) => setTimeout(r, 50, false))]);
        if (opened) return { outcomes: batch.records.map(() => ({ kind: 'done', reason: 'delivered' })) };
      }
      return { outcomes: [], aborted: true };
    };
  }

  async function start(
    groupId: string,
    handler: TopicHandler<'events'>,
    maxRecordsInFlight = 1000,
  ): Promise<StageRuntime> {
    const runtime = new StageRuntime({
      stage: 'sink',
      kafka,
      producer,
      codec,
      registry: new Registry(),
      stallReadyMs: 60_000,
      stallLiveMs: 120_000,
      retryInitialMs: 50,
      retryMaxMs: 200,
    });
    runtimes.push(runtime);
    const spec: StageConsumerSpec = {
      groupId,
      topics: [{ topic: topic('events', config.kafka.topicPrefix) }],
      chunkSize: Number.MAX_SAFE_INTEGER,
      consumer: { maxWaitTimeInMs: 100 },
      pipeline: { maxRecordsInFlight },
    };
    const lookup = ((key: string) => (key === 'events' ? handler : undefined)) as HandlerLookup;
    await runtime.start([spec], lookup);
    return runtime;
  }

  async function committed(groupId: string): Promise<number> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId, topics: [eventsTopic()] });
      return Number(t.partitions.find((p) => p.partition === 0)!.offset);
    } finally {
      await admin.disconnect();
    }
  }

  const nextGroup = () => `${config.kafka.topicPrefix}pipeline-${++group}`;

  it('fetches while a released slice waits, and commits the partition in order', async () => {
    const groupId = nextGroup();
    const calls: Call[] = [];
    await produce(0, 5);
    await start(groupId, gatedHandler(calls, true));
    await waitFor(() => calls.length === 1, { timeoutMs: 30_000 });
    await produce(5, 5);
    // the first slice still waits for its answer, and the next records are already handled
    await waitFor(() => calls.length === 2, { timeoutMs: 10_000 });
    expect(calls.map((c) => c.ids.length)).toEqual([5, 5]);
    expect(calls[1].ids[0]).toBe('intercom:conversation:5:created');
    calls[1].open();
    await new Promise((r) => setTimeout(r, 500));
    // the later slice is answered, but the earlier one is not: nothing is committed yet
    expect(await committed(groupId)).toBeLessThan(0);
    calls[0].open();
    await waitFor(async () => (await committed(groupId)) === 10, { timeoutMs: 10_000 });
  });

  it('fetches nothing more while maxRecordsInFlight records are unsettled', async () => {
    const groupId = nextGroup();
    const calls: Call[] = [];
    await start(groupId, gatedHandler(calls, true), 3);
    // the topic holds the first test's 10 records: one slice of them, released, over the limit
    await waitFor(() => calls.length === 1, { timeoutMs: 30_000 });
    await produce(10, 2);
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls).toHaveLength(1);
    calls[0].open();
    await waitFor(() => calls.length === 2, { timeoutMs: 10_000 });
    expect(calls[1].ids).toEqual(['intercom:conversation:10:created', 'intercom:conversation:11:created']);
    calls[1].open();
    await waitFor(async () => (await committed(groupId)) === 12, { timeoutMs: 10_000 });
  });

  it('commits nothing of a slice a stop cut short, nor of the slices after it: the next consumer reads them again', async () => {
    const groupId = nextGroup();
    const calls: Call[] = [];
    const runtime = await start(groupId, gatedHandler(calls, true));
    await waitFor(() => calls.length === 1, { timeoutMs: 30_000 }); // offsets 0-11
    await produce(12, 3);
    await waitFor(() => calls.length === 2, { timeoutMs: 10_000 });
    calls[1].open(); // answered, but behind a slice that never is
    await runtime.stop();
    expect(await committed(groupId)).toBeLessThan(0);
    const again: Call[] = [];
    await start(groupId, gatedHandler(again, false));
    await waitFor(() => again.length >= 1, { timeoutMs: 30_000 });
    expect(again[0].ids[0]).toBe('intercom:conversation:0:created');
    for (;;) {
      again.forEach((c) => c.open());
      if (again.flatMap((c) => c.ids).length >= 15) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(async () => (await committed(groupId)) === 15, { timeoutMs: 10_000 });
  });
});
