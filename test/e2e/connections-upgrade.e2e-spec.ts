/**
 * Issue #22's upgrade test: topics written before connections existed (the schemas of
 * 2026-12-06, test/fixtures/schemas-before-connections) are read by today's code as the
 * default connection, with the same unique_ids, and nothing reaches Klaviyo as new twice.
 *
 * The raw notifications and a copy of the events are written with the old schemas (as the old
 * ingest and transformer wrote them); today's transformer and sink register today's schemas
 * on the same subjects (the registry's BACKWARD check) and process them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveNotifications, type DerivedNotification } from '@iks/backfill';
import { connectionOf } from '@iks/domain';
import { AvroCodec, createKafka, eventToAvro, notificationToAvro, topicName } from '@iks/kafka';
import { generateDataset } from '../../tools/intercom-emulator/src';
import { TopicTap } from '../support/raw-topic';
import { testConfig } from '../support/test-config';
import { waitFor } from '../support/wait-for';
import { Pipeline } from './pipeline-harness';

const OLD_SCHEMAS = join(__dirname, '..', 'fixtures', 'schemas-before-connections');
const oldSchema = (file: string) => readFileSync(join(OLD_SCHEMAS, file), 'utf8');

const dataset = generateDataset({ seed: 22, contacts: 6, conversations: 5, tickets: 3 });
const APP_ID = dataset.appId;

function derived(): DerivedNotification[] {
  const opts = { appId: APP_ID, source: 'backfill' as const };
  return [
    ...dataset.contacts.flatMap(
      (c) => deriveNotifications('contacts', structuredClone(c) as never, opts).notifications,
    ),
    ...dataset.conversations.flatMap(
      (c) => deriveNotifications('conversations', structuredClone(c) as never, opts).notifications,
    ),
    ...dataset.tickets.flatMap((t) => deriveNotifications('tickets', structuredClone(t) as never, opts).notifications),
  ];
}

describe('upgrade: records written before connections existed', () => {
  jest.setTimeout(240_000);
  const prefix = testConfig('cli').kafka.topicPrefix;
  let pipeline: Pipeline;
  let tap: TopicTap;

  afterAll(async () => {
    await tap?.stop();
    await pipeline?.stop();
  });

  it('reads them as the default connection, with the unique_ids of before, and sends nothing new twice', async () => {
    const kafkaConfig = { ...testConfig('cli').kafka, topicPrefix: prefix };
    const oldCodec = new AvroCodec(kafkaConfig);
    const rawTopic = topicName('notifications', prefix);
    const eventsTopic = topicName('events', prefix);
    // the subjects as the old code left them: its schemas registered first
    const oldRawId = await oldCodec.registerOne(`${rawTopic}-value`, oldSchema('intercom-notification.avsc'));
    const oldEventId = await oldCodec.registerOne(`${eventsTopic}-value`, oldSchema('klaviyo-event.avsc'));
    expect(JSON.parse(oldSchema('klaviyo-event.avsc')).fields.map((f: { name: string }) => f.name)).not.toContain(
      'connection_id',
    );

    const kafka = createKafka(kafkaConfig);
    const producer = kafka.producer();
    await producer.connect();
    const notifications = derived();
    const expectedIds = new Set(notifications.flatMap((n) => (n.expected ? [n.expected.uniqueId] : [])));
    expect(expectedIds.size).toBeGreaterThan(10);
    const writeOld = async (records: readonly DerivedNotification[]) => {
      const messages = [];
      for (const r of records) {
        const value = await oldCodec.registry.encode(oldRawId, notificationToAvro(r.notification));
        messages.push({ key: r.key, value });
      }
      await producer.send({ topic: rawTopic, acks: -1, messages });
    };
    await writeOld(notifications);

    // today's apps on those topics
    // DEFAULT_PHONE_REGION: the dataset has national phone numbers and contacts without email
    pipeline = await Pipeline.start({ dataset, env: { TOPIC_PREFIX: prefix, DEFAULT_PHONE_REGION: 'US' } });
    expect(pipeline.prefix).toBe(prefix);
    tap = new TopicTap(createKafka(kafkaConfig), new AvroCodec(kafkaConfig), `${prefix}tap`);
    await tap.start([rawTopic, eventsTopic]);

    await pipeline.waitForUniqueIds([...expectedIds], 120_000);
    await pipeline.quiesce(120_000);
    const delivered = pipeline.klaviyo.store.events.length;
    expect(new Set(pipeline.klaviyo.store.events.map((e) => e.unique_id))).toEqual(expectedIds);
    expect(delivered).toBe(expectedIds.size);

    // what the old records decode to: the default connection
    const raw = tap.of(rawTopic);
    expect(raw.length).toBeGreaterThanOrEqual(notifications.length);
    expect(raw.map((r) => connectionOf(r.value as object))).toEqual(raw.map(() => 'default'));
    const events = await waitFor(() => tap.of(eventsTopic).length >= expectedIds.size && tap.of(eventsTopic), {
      what: 'the mapped events on the events topic',
    });
    expect(new Set(events.map((e) => connectionOf(e.value as object)))).toEqual(new Set(['default']));

    // again: the same notifications in today's schema (Intercom redelivers after the upgrade), and a
    // copy of every mapped event written back in the old schema (an old transformer still running)
    await pipeline.writeRaw(notifications);
    const todays = new AvroCodec(kafkaConfig);
    await todays.registerAll();
    const oldEvents = [];
    for (const e of events) {
      const record = await todays.decodeAs('events', e.raw.value as Buffer);
      oldEvents.push({ key: e.key, value: await oldCodec.registry.encode(oldEventId, eventToAvro(record)) });
    }
    await producer.send({ topic: eventsTopic, acks: -1, messages: oldEvents });
    await producer.disconnect();
    await waitFor(() => tap.of(rawTopic).length >= 2 * notifications.length, { what: 'the redelivered notifications' });
    await waitFor(() => tap.of(eventsTopic).length >= 3 * expectedIds.size, {
      what: 'the events mapped again and the old-schema copies',
      timeoutMs: 60_000,
    });
    await pipeline.quiesce(120_000);

    // every event reached Klaviyo once: the same unique_ids, no new event
    expect(pipeline.klaviyo.store.events).toHaveLength(delivered);
    expect(new Set(pipeline.klaviyo.store.events.map((e) => e.unique_id))).toEqual(expectedIds);
  });
});
