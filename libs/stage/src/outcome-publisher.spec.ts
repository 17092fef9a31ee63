import { CompressionTypes, type KafkaMessage, type Producer } from 'kafkajs';
import { outcomeFromAvro, type AvroCodec, type OutcomeAvro } from '@iks/kafka';
import { OutcomePublisher } from './outcome-publisher';
import type { OutcomeSubject } from './stage.types';

const subject: OutcomeSubject = {
  record_kind: 'event',
  metric: 'Ticket Resolved',
  unique_id: 'u1',
  intercom_contact_id: 'c1',
  email: 'a@example.com',
  phone_number: null,
  event_time: '2024-01-01T00:00:00Z',
  properties_json: '{"x":1}',
  backfill: false,
  source_notification_id: 'n1',
};

function setup(describe = async (_t: string, v: Buffer | null) => (v ? subject : null)) {
  const sent: Array<{
    topic: string;
    compression?: CompressionTypes;
    messages: Array<{ key: unknown; value: unknown }>;
  }> = [];
  // one request per sendBatch, each of one topic here: what reached the broker, in order
  const producer = {
    sendBatch: async (b: Parameters<Producer['sendBatch']>[0]) => {
      for (const t of b.topicMessages ?? [])
        sent.push({
          topic: t.topic,
          compression: b.compression,
          messages: t.messages as (typeof sent)[number]['messages'],
        });
    },
  } as unknown as Producer;
  const codec = { encode: async (_t: string, v: Record<string, unknown>) => v } as unknown as AvroCodec;
  return { sent, publisher: new OutcomePublisher('p.klaviyo.outcomes.v1', 'sink', producer, codec, describe) };
}

const msg = (offset: string, value: Buffer | null): KafkaMessage =>
  ({ offset, value, key: Buffer.from('k'), timestamp: '1700000000000', attributes: 0, headers: {} }) as KafkaMessage;

describe('OutcomePublisher', () => {
  it('publishes one outcome per record: delivered, skipped, dead-lettered with the error and its code', async () => {
    const { sent, publisher } = setup();
    const err = Object.assign(new Error('Klaviyo 400 invalid: bad'), { name: 'KlaviyoRejectedError', code: 'invalid' });
    await publisher.publish(
      'p.klaviyo.events.v1',
      2,
      [msg('5', Buffer.from('a')), msg('6', Buffer.from('b')), msg('7', null)],
      [
        { kind: 'done', reason: 'delivered' },
        { kind: 'skip', reason: 'contact_deleted' },
        { kind: 'dead_letter', error: err },
      ],
    );
    expect(sent).toHaveLength(1);
    expect(sent[0].topic).toBe('p.klaviyo.outcomes.v1');
    // an outcome is mostly its record's sealed bytes: LZ4, not the producer's GZIP
    expect(sent[0].compression).toBe(CompressionTypes.LZ4);
    const outs = sent[0].messages.map((m) => outcomeFromAvro(m.value as OutcomeAvro));
    expect(outs.map((o) => [o.kind, o.reason, o.offset, o.partition])).toEqual([
      ['delivered', 'delivered', '5', 2],
      ['skipped', 'contact_deleted', '6', 2],
      ['dead_lettered', 'KlaviyoRejectedError: Klaviyo 400 invalid: bad', '7', 2],
    ]);
    expect(outs[2].error_code).toBe('invalid');
    expect(outs[2].record_kind).toBeNull(); // undecodable: no subject
    expect(outs[0]).toMatchObject({
      metric: 'Ticket Resolved',
      unique_id: 'u1',
      email: 'a@example.com',
      record_timestamp: 1700000000000,
    });
    expect(sent[0].messages[0].key).toBe('c1');
  });

  it('uses the subject the handler decoded instead of decoding the record again', async () => {
    let described = 0;
    const { sent, publisher } = setup(async () => {
      described++;
      return subject;
    });
    const known: OutcomeSubject = { ...subject, unique_id: 'u-known', metric: 'Conversation Created' };
    await publisher.publish(
      't',
      0,
      [msg('1', Buffer.from('a')), msg('2', Buffer.from('b'))],
      [
        { kind: 'done', reason: 'delivered', subject: known },
        { kind: 'dead_letter', error: new Error('x'), subject: known },
      ],
    );
    expect(described).toBe(0);
    expect(sent[0].messages.map((m) => outcomeFromAvro(m.value as OutcomeAvro).unique_id)).toEqual([
      'u-known',
      'u-known',
    ]);
  });

  it('carries when the webhook was received, from the lineage header of the consumed record', async () => {
    const { sent, publisher } = setup();
    const withHeader = {
      ...msg('1', Buffer.from('a')),
      headers: { 'iks-received-at': Buffer.from('1699999999000') },
    } as KafkaMessage;
    await publisher.publish(
      't',
      0,
      [withHeader, msg('2', Buffer.from('b'))],
      [
        { kind: 'done', reason: 'delivered' },
        { kind: 'done', reason: 'delivered' },
      ],
    );
    expect(sent[0].messages.map((m) => outcomeFromAvro(m.value as OutcomeAvro).received_at)).toEqual([
      1699999999000,
      null,
    ]);
  });

  it('says retried for each record of a failed slice, and survives a record it cannot describe', async () => {
    const { sent, publisher } = setup(async () => {
      throw new Error('registry down');
    });
    await publisher.publishRetried('t', 0, [msg('1', Buffer.from('a'))], new Error('ECONNREFUSED'));
    const o = outcomeFromAvro(sent[0].messages[0].value as OutcomeAvro);
    expect(o).toMatchObject({ kind: 'retried', reason: 'Error: ECONNREFUSED', record_kind: null });
  });
});
