import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, eventToAvro, topicName } from '@iks/kafka';
import { testConfig } from '../../../test/support/test-config';
import { ProducedIndex } from './produced-index';
import { updateProducedIndex } from './produced-index.updater';
import { prepareFreshTopics } from '../../../tools/support/fresh-topics';

describe('updateProducedIndex (real broker and registry)', () => {
  it('reads past records the sink cannot read (not Avro, properties that are not JSON) and keeps every id', async () => {
    const config = testConfig('reconciler', { INTERCOM_ACCESS_TOKEN: 't' });
    const kafka = createKafka(config.kafka);
    const codec = await prepareFreshTopics(config);
    const topic = topicName('events', config.kafka.topicPrefix);
    const event = (uniqueId: string) =>
      eventToAvro({
        kind: 'event',
        metric: 'Ticket Resolved',
        unique_id: uniqueId,
        time: '2026-01-01T00:00:00Z',
        profile: { email: 'ada@example.com' },
        properties: {},
        backfill: false,
        intercom_contact_id: 'c1',
        source_notification_id: 'n1',
        source_topic: 'ticket.state.updated',
      });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'c1', value: await codec.encode(topic, event('before')) },
        { key: 'c1', value: await codec.encode(topic, { ...event('poison'), properties_json: '{not json' }) },
        { key: 'c1', value: Buffer.from('not avro at all') },
        { key: 'c1', value: await codec.encode(topic, event('after')) },
      ],
    });
    await producer.disconnect();

    const index = ProducedIndex.open(
      mkdtempSync(join(tmpdir(), 'iks-index-')),
      topic,
      topicName('profiles', config.kafka.topicPrefix),
    );
    expect(await updateProducedIndex(index, { kafka, codec, topicPrefix: config.kafka.topicPrefix })).toBe(3);
    expect(['before', 'poison', 'after'].map((id) => index.hasEvent(id))).toEqual([true, true, true]);
    expect(index.position(topic, 0) + index.position(topic, 1) + index.position(topic, 2)).toBe(4n);
  });
});
