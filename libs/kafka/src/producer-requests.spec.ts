import { CompressionTypes, type Producer } from 'kafkajs';
import { chunksByBytes, sendInBoundedRequests } from './producer-requests';

describe('chunksByBytes', () => {
  const msg = (bytes: number, key = 'k') => ({ key, value: Buffer.alloc(bytes) });

  it('cuts a large slice into requests under the limit, in order, losing nothing', () => {
    const messages = Array.from({ length: 3000 }, (_, i) => ({
      key: `contact-${i}`,
      value: Buffer.alloc(1500, i % 256),
    }));
    const runs = chunksByBytes(messages, 512 * 1024);
    expect(runs.length).toBeGreaterThan(1);
    for (const run of runs)
      expect(run.reduce((n, m) => n + m.value.length + m.key.length + 64, 0)).toBeLessThanOrEqual(512 * 1024);
    expect(runs.flat()).toEqual(messages);
  });

  it('sends a record larger than the limit alone, and nothing for no messages', () => {
    const runs = chunksByBytes([msg(10), msg(2000), msg(10)], 1000);
    expect(runs.map((r) => r.map((m) => m.value.length))).toEqual([[10], [2000], [10]]);
    expect(chunksByBytes([], 1000)).toEqual([]);
  });
});

describe('sendInBoundedRequests', () => {
  it('sends each run as one sendBatch, grouped by topic, with the codec asked for (or the producer’s own)', async () => {
    const batches: Array<Parameters<Producer['sendBatch']>[0]> = [];
    const producer = {
      sendBatch: async (b: Parameters<Producer['sendBatch']>[0]) => void batches.push(b),
    } as unknown as Producer;
    const messages = [
      { topic: 'a', key: 'k1', value: Buffer.alloc(600) },
      { topic: 'b', key: 'k2', value: Buffer.alloc(600) },
      { topic: 'a', key: 'k3', value: Buffer.alloc(600) },
    ];
    const sent: string[] = [];
    await sendInBoundedRequests(producer, messages, {
      onSent: (t, n) => sent.push(`${t}:${n}`),
      maxBytes: 1000,
      compression: CompressionTypes.LZ4,
    });
    expect(batches.map((b) => [b.compression, b.topicMessages!.map((t) => `${t.topic}:${t.messages.length}`)])).toEqual(
      [
        [CompressionTypes.LZ4, ['a:1']],
        [CompressionTypes.LZ4, ['b:1']],
        [CompressionTypes.LZ4, ['a:1']],
      ],
    );
    expect(sent).toEqual(['a:1', 'b:1', 'a:1']);
    batches.length = 0;
    await sendInBoundedRequests(producer, messages);
    expect(batches).toHaveLength(1);
    expect('compression' in batches[0]).toBe(false);
    expect(batches[0].topicMessages!.map((t) => `${t.topic}:${t.messages.length}`)).toEqual(['a:2', 'b:1']);
  });
});
