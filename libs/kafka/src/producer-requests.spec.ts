import { chunksByBytes } from './producer-requests';

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
