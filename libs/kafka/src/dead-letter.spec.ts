import type { Producer, ProducerBatch } from 'kafkajs';
import type { AvroCodec } from './avro-codec';
import { DeadLetterPublisher, type FailureContext } from './dead-letter';

/** A producer that records each produce request; a codec whose encoding is the original value plus the error. */
function rig() {
  const requests: Array<Array<{ topic: string; key: string; value: Buffer }>> = [];
  const producer = {
    send: async () => {
      throw new Error('one request per letter: not expected');
    },
    sendBatch: async (batch: ProducerBatch) => {
      requests.push(
        batch.topicMessages!.flatMap((t) =>
          t.messages.map((m) => ({ topic: t.topic, key: String(m.key), value: m.value as Buffer })),
        ),
      );
      return [];
    },
  } as unknown as Producer;
  const codec = {
    encode: async (_subject: string, letter: { value: Buffer | null; error_message: string }) =>
      Buffer.concat([letter.value ?? Buffer.alloc(0), Buffer.from(`|${letter.error_message}`)]),
  } as unknown as AvroCodec;
  return { publisher: new DeadLetterPublisher(producer, codec), requests };
}

const letter = (offset: number, size = 10): FailureContext => ({
  topic: 'raw',
  partition: 1,
  stage: 'transformer',
  error: new Error(`bad ${offset}`),
  message: { key: Buffer.from(`k${offset}`), value: Buffer.alloc(size, 97), headers: {}, offset: String(offset) },
});

describe('DeadLetterPublisher.publishAll', () => {
  it("sends a slice's dead letters to <topic>.dlq in one request, in order, each with its reason", async () => {
    const { publisher, requests } = rig();
    await publisher.publishAll([letter(3), letter(7), letter(9)]);
    expect(requests).toHaveLength(1);
    expect(requests[0].map((m) => [m.topic, m.key])).toEqual([
      ['raw.dlq', 'k3'],
      ['raw.dlq', 'k7'],
      ['raw.dlq', 'k9'],
    ]);
    expect(requests[0].map((m) => m.value.toString().split('|')[1])).toEqual(['bad 3', 'bad 7', 'bad 9']);
  });

  it('keeps each request under 1 MiB when the letters are large, and loses none', async () => {
    const { publisher, requests } = rig();
    await publisher.publishAll(Array.from({ length: 10 }, (_, i) => letter(i, 400_000)));
    expect(requests.length).toBeGreaterThanOrEqual(4);
    expect(requests.flat().map((m) => m.key)).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`));
    for (const r of requests)
      expect(r.reduce((n, m) => n + m.value.length + m.key.length, 0)).toBeLessThanOrEqual(1024 * 1024);
  });

  it('sends nothing for no letters', async () => {
    const { publisher, requests } = rig();
    await publisher.publishAll([]);
    expect(requests).toEqual([]);
  });
});
