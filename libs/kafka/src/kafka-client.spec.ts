import { gunzipSync, gzipSync } from 'node:zlib';
import {
  CompressionCodecs,
  CompressionTypes,
  KafkaJSProtocolError,
  type Admin,
  type Kafka,
  type Producer,
} from 'kafkajs';
import { createProducer, ensureTopics, GZIP_LEVEL, PRODUCER_COMPRESSION } from './kafka-client';
import { allTopics } from './topics';

function fakeKafka() {
  const sent: { send: unknown[]; sendBatch: unknown[] } = { send: [], sendBatch: [] };
  const producer = {
    send: async (r: unknown) => {
      sent.send.push(r);
      return [];
    },
    sendBatch: async (b: unknown) => {
      sent.sendBatch.push(b);
      return [];
    },
  } as unknown as Producer;
  return { kafka: { producer: () => producer } as unknown as Kafka, sent };
}

describe('createProducer', () => {
  it.each([
    ['gzip', CompressionTypes.GZIP],
    ['lz4', CompressionTypes.LZ4],
  ] as const)(
    'compresses every send and sendBatch with %s (KAFKA_COMPRESSION) unless the caller names a codec',
    async (setting, codec) => {
      const { kafka, sent } = fakeKafka();
      const producer = createProducer(kafka, setting);
      await producer.send({ topic: 't', acks: -1, messages: [{ value: 'a' }] });
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic: 't', messages: [{ value: 'b' }] }] });
      await producer.send({ topic: 't', compression: CompressionTypes.None, messages: [{ value: 'c' }] });
      expect(sent.send).toEqual([
        { compression: codec, topic: 't', acks: -1, messages: [{ value: 'a' }] },
        { compression: CompressionTypes.None, topic: 't', messages: [{ value: 'c' }] },
      ]);
      expect(sent.sendBatch).toEqual([
        { compression: codec, acks: -1, topicMessages: [{ topic: 't', messages: [{ value: 'b' }] }] },
      ]);
    },
  );

  it('writes GZIP when KAFKA_COMPRESSION is not set', async () => {
    const { kafka, sent } = fakeKafka();
    await createProducer(kafka).send({ topic: 't', messages: [{ value: 'a' }] });
    expect(sent.send).toEqual([{ compression: CompressionTypes.GZIP, topic: 't', messages: [{ value: 'a' }] }]);
    expect(PRODUCER_COMPRESSION).toEqual({ gzip: CompressionTypes.GZIP, lz4: CompressionTypes.LZ4 });
  });
});

describe('the GZIP codec kafkajs uses (for sends that name GZIP, and the GZIP batches already in the topics)', () => {
  const json = Buffer.from(
    JSON.stringify(
      Array.from({ length: 50 }, (_, i) => ({
        type: 'notification_event',
        id: `notif_${i}`,
        topic: 'conversation.user.replied',
        data: { item: { body: 'x'.repeat(i) } },
      })),
    ),
  );

  it(`writes standard gzip at level ${GZIP_LEVEL}, which any reader inflates`, async () => {
    const codec = CompressionCodecs[CompressionTypes.GZIP]();
    const compressed: Buffer = await codec.compress({ buffer: json });
    expect(gunzipSync(compressed)).toEqual(json);
    expect(compressed).toEqual(gzipSync(json, { level: GZIP_LEVEL }));
    expect(compressed.length).toBeLessThan(json.length / 5);
  });

  it('reads gzip written at any level', async () => {
    const codec = CompressionCodecs[CompressionTypes.GZIP]();
    expect(await codec.decompress(gzipSync(json, { level: 9 }))).toEqual(json);
  });
});

describe('ensureTopics', () => {
  const config = { topicPrefix: 'tspec.', partitions: 3, replicationFactor: 1 };
  const names = allTopics('tspec.').map((t) => t.name);
  /** An admin whose createTopics fails with `failures` in turn (after creating the topics, as the broker does), then succeeds. */
  function fakeAdmin(failures: Error[]) {
    const topics = new Set<string>();
    const calls = { list: 0, create: 0 };
    const admin = {
      listTopics: async () => (calls.list++, [...topics]),
      createTopics: async (r: { topics: Array<{ topic: string }> }) => {
        calls.create++;
        for (const t of r.topics) topics.add(t.topic);
        const failure = failures.shift();
        if (failure) throw failure;
        return true;
      },
    } as unknown as Admin;
    return { admin, calls };
  }
  // as kafkajs makes it from the broker's error code 3 (its createErrorFromCode)
  const notHosted = () =>
    new KafkaJSProtocolError({
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
      code: 3,
      retriable: true,
      message: 'This server does not host this topic-partition',
    } as unknown as Error);

  it('asks again while the broker does not host a new topic yet, and returns every topic it created', async () => {
    const { admin, calls } = fakeAdmin([notHosted()]);
    expect((await ensureTopics(admin, config, 0)).sort()).toEqual([...names].sort());
    // the topics exist after the first create: the second attempt finds them all
    expect(calls).toEqual({ list: 2, create: 1 });
  });

  it('throws any other error at once', async () => {
    const { admin, calls } = fakeAdmin([new Error('Cluster authorization failed')]);
    await expect(ensureTopics(admin, config, 0)).rejects.toThrow('Cluster authorization failed');
    expect(calls.create).toBe(1);
  });

  it('gives up after 20 attempts', async () => {
    let lists = 0;
    const admin = {
      listTopics: async () => {
        lists++;
        throw notHosted();
      },
    } as unknown as Admin;
    await expect(ensureTopics(admin, config, 0)).rejects.toThrow('does not host');
    expect(lists).toBe(20);
  });
});
