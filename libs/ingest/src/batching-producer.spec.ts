import { CompressionTypes, type Message, type Producer, type ProducerBatch } from 'kafkajs';
import { BatchingProducer } from './batching-producer';

/** A producer that records each produce request and acks it. */
function recordingProducer() {
  const requests: Message[][] = [];
  const producer = {
    sendBatch: async (batch: ProducerBatch) => {
      requests.push(batch.topicMessages!.flatMap((t) => t.messages));
      return batch.topicMessages!.map((t) => ({ topicName: t.topic, partition: 0, errorCode: 0 }));
    },
  } as unknown as Producer;
  return { producer, requests };
}

const bytes = (m: Message) => (m.value as Buffer).length + (m.key ? Buffer.byteLength(m.key as string) : 0);

describe('BatchingProducer request size', () => {
  it('never puts more than maxBatchBytes of records in one produce request', async () => {
    const { producer, requests } = recordingProducer();
    const batching = new BatchingProducer(producer, { maxBatch: 2000, maxBatchBytes: 1024 * 1024 });
    // 60 webhooks near 1 MiB each, arriving together (issue #14 item 3)
    const sends = Array.from({ length: 60 }, (_, i) =>
      batching.send('raw', { key: `k${i}`, value: Buffer.alloc(1_000_000) }),
    );
    await Promise.all(sends);
    expect(requests.flat()).toHaveLength(60);
    for (const r of requests) expect(r.map(bytes).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1024 * 1024);
  });

  it("sends a record larger than a shared request's share alone, and batches the small ones around it", async () => {
    const { producer, requests } = recordingProducer();
    const batching = new BatchingProducer(producer, { maxBatch: 2000, maxBatchBytes: 64 * 1024 });
    const sends = [
      batching.send('raw', { key: 'a', value: Buffer.alloc(1000) }),
      batching.send('raw', { key: 'big', value: Buffer.alloc(200 * 1024) }),
      batching.send('raw', { key: 'b', value: Buffer.alloc(1000) }),
      batching.send('raw', { key: 'c', value: Buffer.alloc(1000) }),
    ];
    await Promise.all(sends);
    const keys = requests.map((r) => r.map((m) => m.key));
    expect(keys).toContainEqual(['big']);
    expect(keys.flat().sort()).toEqual(['a', 'b', 'big', 'c']);
  });
});

describe('BatchingProducer compression', () => {
  it("sends its requests with the compression it was given (the writer's sealed raw records: none), else the producer's", async () => {
    const seen: Array<ProducerBatch['compression']> = [];
    const producer = {
      sendBatch: async (batch: ProducerBatch) => {
        seen.push(batch.compression);
        return batch.topicMessages!.map((t) => ({ topicName: t.topic, partition: 0, errorCode: 0 }));
      },
    } as unknown as Producer;
    await new BatchingProducer(producer, { compression: CompressionTypes.None }).send('raw', {
      value: Buffer.alloc(1),
    });
    await new BatchingProducer(producer).send('raw', { value: Buffer.alloc(1) });
    expect(seen).toEqual([CompressionTypes.None, undefined]);
  });
});
