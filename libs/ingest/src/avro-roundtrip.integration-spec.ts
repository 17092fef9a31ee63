import type { RawNotification } from '@iks/domain';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { AvroCodec, createKafka, createProducer, ensureTopics, notificationToAvro, topicName } from '@iks/kafka';
import { BatchingProducer } from './batching-producer';

describe('raw notification through the real broker and registry', () => {
  const config = testConfig();
  const kafka = createKafka(config.kafka);
  const producer = createProducer(kafka);
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: `${config.kafka.topicPrefix}roundtrip` });
  const codec = new AvroCodec(config.kafka);

  beforeAll(async () => {
    await Promise.all([producer.connect(), admin.connect(), consumer.connect()]);
    await ensureTopics(admin, config.kafka);
    await codec.registerAll();
  });
  afterAll(async () => {
    await Promise.all([producer.disconnect(), admin.disconnect(), consumer.disconnect()]);
  });

  it('produces an Avro-encoded notification, consumes it in a group and decodes it unchanged', async () => {
    const topic = topicName('notifications', config.kafka.topicPrefix);
    const body =
      '{"type":"notification_event","id":"notif_1","topic":"conversation.user.created","data":{"item":{"id":"123","title":"Ciao – è ok"}}}';
    const original: RawNotification = {
      notification_id: 'notif_1',
      topic: 'conversation.user.created',
      app_id: 'abc123',
      created_at: 1700000000,
      delivery_attempts: 1,
      first_sent_at: 1700000001,
      received_at: Date.now(),
      source: 'webhook',
      body,
    };
    const encoded = await codec.encode(topic, notificationToAvro(original));
    expect(encoded[0]).toBe(0); // Confluent wire format: magic byte, then the 4-byte schema id
    expect(encoded.readInt32BE(1)).toBe(codec.idFor(topic));

    await new BatchingProducer(producer).send(topic, { key: '123', value: encoded });

    const seen: RawNotification[] = [];
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void seen.push(await codec.decodeAs('notifications', message.value!)),
    });
    await waitFor(() => seen.length === 1, { what: 'the notification' });
    expect(seen[0]).toEqual(original);
    expect(seen[0].body).toBe(body);
  });

  it('admin sees the topics it created, the directory compacted', async () => {
    const md = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topicName('contacts', config.kafka.topicPrefix), configNames: ['cleanup.policy'] }],
    });
    expect(md.resources[0].configEntries[0].configValue).toBe('compact');
  });
});
