import { randomBytes } from 'node:crypto';
import { CompressionCodecs, CompressionTypes, Partitioners, type Consumer, type KafkaMessage } from 'kafkajs';
import {
  conversationLifecycle,
  createRng,
  makeAdmin,
  makeContact,
  makeTeam,
} from '../../../tools/intercom-emulator/src';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { createKafka, createProducer } from './kafka-client';
import { encodeLz4Frame } from './lz4-frame';

/** Real-shaped webhook bodies (the Intercom emulator's conversation lifecycles). */
function webhooks(n: number): string[] {
  const admin = makeAdmin({ name: 'Spec Admin' });
  const team = makeTeam({ name: 'Support' });
  const out: string[] = [];
  for (let c = 0; out.length < n; c += 1) {
    const contact = makeContact({}, createRng(c + 1));
    for (const w of conversationLifecycle({ contact, admin, team, startAt: 1_765_000_000, seed: c, id: String(c) })) {
      out.push(JSON.stringify(w));
    }
  }
  return out.slice(0, n);
}

/** Counts the calls kafkajs makes to the LZ4 codec while `fn` runs (the table is looked up per batch). */
async function countingLz4<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; calls: { compress: number; decompress: number } }> {
  const original = CompressionCodecs[CompressionTypes.LZ4];
  const calls = { compress: 0, decompress: 0 };
  CompressionCodecs[CompressionTypes.LZ4] = () => {
    const codec = original();
    return {
      compress: (encoder: { buffer: Buffer }) => ((calls.compress += 1), codec.compress(encoder)),
      decompress: (buffer: Buffer) => ((calls.decompress += 1), codec.decompress(buffer)),
    };
  };
  try {
    return { result: await fn(), calls };
  } finally {
    CompressionCodecs[CompressionTypes.LZ4] = original;
  }
}

describe('LZ4 record batches on the real broker', () => {
  const config = testConfig();
  const kafka = createKafka(config.kafka);
  const admin = kafka.admin();
  const producer = createProducer(kafka, 'lz4');
  const topic = `${config.kafka.topicPrefix}lz4`;
  const compacted = `${config.kafka.topicPrefix}lz4-compacted`;
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    await Promise.all([admin.connect(), producer.connect()]);
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(4 * 1024 * 1024) }] },
        { topic: compacted, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ],
    });
  });
  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()));
    await admin.deleteTopics({ topics: [topic, compacted] }).catch(() => undefined);
    await Promise.all([producer.disconnect(), admin.disconnect()]);
  });

  async function readAll(t: string, count: number): Promise<KafkaMessage[]> {
    const consumer = kafka.consumer({ groupId: `${config.kafka.topicPrefix}lz4-${randomBytes(3).toString('hex')}` });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: t, fromBeginning: true });
    const seen: KafkaMessage[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    await waitFor(() => seen.length >= count, { what: `${count} records of ${t}`, timeoutMs: 60_000 });
    await consumer.stop();
    return seen;
  }

  const bodies = webhooks(300);
  const gzipped = { key: 'old', value: 'written as GZIP, before LZ4' };
  const batches = [
    bodies.slice(0, 1),
    bodies.slice(1, 5),
    bodies.slice(5, 21),
    bodies.slice(21, 300), // ~800 KB: one 1 MB block
  ];
  const incompressible = randomBytes(200_000); // stored, not compressed

  it('accepts the batches createProducer writes with KAFKA_COMPRESSION=lz4, after a GZIP batch; a consumer reads every record back', async () => {
    // the batch producers wrote before 2026-12-07, still in the topics
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [gzipped] });
    const { calls } = await countingLz4(async () => {
      for (const [i, batch] of batches.entries()) {
        await producer.send({ topic, acks: -1, messages: batch.map((value, j) => ({ key: `k${i}-${j}`, value })) });
      }
      await producer.send({ topic, acks: -1, messages: [{ key: 'random', value: incompressible }] });
    });
    expect(calls.compress).toBe(batches.length + 1); // one LZ4 batch per send, none refused

    const { result: seen, calls: read } = await countingLz4(() => readAll(topic, 302));
    expect(read.decompress).toBeGreaterThanOrEqual(1);
    expect(seen.map((m) => m.key?.toString())).toEqual([
      'old',
      ...batches.flatMap((batch, i) => batch.map((_, j) => `k${i}-${j}`)),
      'random',
    ]);
    expect(seen[0].value?.toString()).toBe(gzipped.value);
    expect(seen.slice(1, 301).map((m) => m.value?.toString())).toEqual(bodies);
    expect(seen[301].value?.equals(incompressible)).toBe(true);
  });

  it('a compacted topic (the broker reads every key out of the frame) takes LZ4 batches too', async () => {
    await producer.send({
      topic: compacted,
      acks: -1,
      messages: bodies.slice(0, 50).map((value, i) => ({ key: `c${i}`, value })),
    });
    const seen = await readAll(compacted, 50);
    expect(seen.map((m) => m.value?.toString())).toEqual(bodies.slice(0, 50));
  });

  it('the broker checks the frame: a wrong header checksum is refused', async () => {
    const plain = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 0 },
    });
    await plain.connect();
    // the same producer's frame as it should be: taken
    await plain.send({ topic, acks: -1, compression: CompressionTypes.LZ4, messages: [{ value: bodies[0] }] });
    const original = CompressionCodecs[CompressionTypes.LZ4];
    CompressionCodecs[CompressionTypes.LZ4] = () => ({
      compress: async (encoder: { buffer: Buffer }) => {
        const frame = encodeLz4Frame(encoder.buffer);
        frame[14] ^= 0xff; // the header checksum byte
        return frame;
      },
      decompress: async () => {
        throw new Error('not read here');
      },
    });
    try {
      // Kafka 4.1.1 logs "IOException: Stream frame descriptor corrupted" (Lz4BlockInputStream.readHeader,
      // from LogValidator) and answers UNKNOWN_SERVER_ERROR
      await expect(
        plain.send({ topic, acks: -1, compression: CompressionTypes.LZ4, messages: [{ value: bodies[0] }] }),
      ).rejects.toThrow('The server experienced an unexpected error when processing the request');
    } finally {
      CompressionCodecs[CompressionTypes.LZ4] = original;
      await plain.disconnect();
    }
  });
});
