import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { JavaCompatiblePartitioner, murmur2, partitionOfKey } from './partitioner';

const metadata = (n: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

describe('JavaCompatiblePartitioner', () => {
  it('puts every key on the partition kafkajs’ DefaultPartitioner (the Java client’s) puts it on', () => {
    const ours = JavaCompatiblePartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const keys: Array<string | Buffer> = [
      '',
      'a',
      'ab',
      'abc',
      'abcd',
      'é',
      'connection-7/6571c3f0a1b2c3d4e5f60718',
      '😀 x',
    ];
    for (let i = 0; i < 3000; i++) {
      const bytes = randomBytes(i % 70);
      keys.push(bytes, `${i}/${bytes.toString('hex')}`, bytes.toString('latin1'));
    }
    const differ: unknown[] = [];
    let compared = 0;
    for (const n of [1, 2, 3, 7, 12, 50]) {
      const partitionMetadata = metadata(n);
      for (const key of keys) {
        const message = { key, value: null };
        const [a, b] = [ours, theirs].map((p) => p({ topic: 't', partitionMetadata, message }));
        compared++;
        if (a !== b) differ.push({ key, partitions: n, ours: a, kafkajs: b });
      }
    }
    expect(compared).toBe(6 * keys.length);
    expect(differ).toEqual([]);
  });

  it('murmur2 gives the Java client’s values (Kafka’s own test vectors)', () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ];
    for (const [text, hash] of cases) expect([text, murmur2(Buffer.from(text))]).toEqual([text, hash]);
    expect(partitionOfKey('foobar', 3)).toBe((-790332482 & 0x7fffffff) % 3);
  });

  it('keeps an explicit partition, and spreads keyless messages over the partitions that have a leader', () => {
    const p = JavaCompatiblePartitioner();
    expect(p({ topic: 't', partitionMetadata: metadata(3), message: { key: 'k', value: null, partition: 2 } })).toBe(2);
    const seen = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const at = p({ topic: 't', partitionMetadata: metadata(4, [1]), message: { value: null } });
      seen.set(at, (seen.get(at) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([0, 2, 3]);
    expect([...seen.values()]).toEqual([100, 100, 100]);
  });
});
