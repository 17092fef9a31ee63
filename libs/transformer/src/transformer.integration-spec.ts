import { AvroCodec, createKafka, dlqName, deadLetterFromAvro, eventFromAvro, profileFromAvro } from '@iks/kafka';
import { fixture, produceRaw, rawFromEnvelope, TopicTap, topicOf } from '../../../test/support/raw-topic';
import { subjectKeysReader, type SubjectKeysReader } from '../../../test/support/subject-keys';
import { TEST_KEY_RING, testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { NO_INTERCOM_API } from '@iks/directory';
import type { TransformerRunner } from './transformer.runner';
import { createTransformerRunner } from './transformer-stage.module';

describe('transformer: raw topic → klaviyo topics through the real broker', () => {
  const config = testConfig('transformer', {
    CONTACT_RETRY_INITIAL_MS: '300',
    CONTACT_WAIT_MAX_MS: '4000',
    CONNECTION_SECRET_KEYS: TEST_KEY_RING,
  });
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  let runner: TransformerRunner;
  /** Opens the records' sealed personal fields (docs/ERASURE.md). */
  let reader: SubjectKeysReader;
  const tap = new TopicTap(kafka, codec, `${config.kafka.topicPrefix}tap`);
  const T = {
    events: topicOf(config, 'events'),
    profiles: topicOf(config, 'profiles'),
    deletions: topicOf(config, 'deletions'),
    rawDlq: dlqName(topicOf(config, 'notifications')),
    retryDlq: dlqName(topicOf(config, 'notificationsRetry')),
  };

  beforeAll(async () => {
    runner = await createTransformerRunner(config, { intercomSource: NO_INTERCOM_API });
    await runner.start();
    await codec.registerAll();
    reader = await subjectKeysReader(config);
    await tap.start(Object.values(T));
  });
  afterAll(async () => {
    await tap.stop();
    await reader?.close();
    await runner?.stop();
  });

  it('maps in order, dead-letters a poison record while the ones after it flow, retries a contact that is not known yet', async () => {
    const poison = Buffer.from('this is not avro');
    const unidentifiable = fixture('conversation.user.created');
    unidentifiable.id = 'notif_lead_conversation';
    unidentifiable.data.item.id = '777';
    unidentifiable.data.item.contacts.contacts[0].id = '6571f0a1b2c3d4e5f6a7b8d0'; // the lead: no email, a phone that is not E.164
    if (unidentifiable.data.item.source?.author) unidentifiable.data.item.source.author.id = '6571f0a1b2c3d4e5f6a7b8d0';

    await produceRaw(kafka, codec, config, [
      rawFromEnvelope(fixture('contact.user.created')),
      rawFromEnvelope(fixture('conversation.user.created')),
      poison,
      rawFromEnvelope(fixture('ticket.created')), // grace: unknown to the directory until contact.user.updated below
      rawFromEnvelope(fixture('contact.lead.created')),
      rawFromEnvelope(unidentifiable),
      rawFromEnvelope(fixture('company.created')),
      rawFromEnvelope(fixture('contact.user.updated')),
    ]);

    // the poison record: original bytes and the reason, the partition moved on
    const letters = await waitFor(() => tap.of(T.rawDlq).length >= 1 && tap.of(T.rawDlq), { what: 'the dead letter' });
    const letter = deadLetterFromAvro(letters[0].value);
    expect(Buffer.from(letter.value!).equals(poison)).toBe(true);
    expect(letter).toMatchObject({
      stage: 'transformer',
      error_class: 'RecordDecodeError',
      original_topic: topicOf(config, 'notifications'),
      retriable: false,
    });
    expect(letter.error_message).toMatch(/cannot decode/);

    const events = await waitFor(() => tap.of(T.events).length >= 2 && tap.of(T.events), {
      what: 'two events',
      timeoutMs: 20_000,
    });
    // written sealed: no email, phone or properties in clear
    for (const e of events)
      expect([e.value.email, e.value.phone_number, e.value.properties_json]).toEqual([null, null, '{}']);
    const opened = await Promise.all(events.map((e) => reader.open(eventFromAvro(e.value))));
    const byMetric = new Map(opened.map((e) => [e.metric, e]));
    expect(byMetric.get('Conversation Created')).toMatchObject({
      unique_id: 'intercom:conversation:1911149811:created',
      profile: { email: 'ada@example.com' },
      backfill: false,
      intercom_contact_id: '6571f0a1b2c3d4e5f6a7b8c9',
      source_topic: 'conversation.user.created',
    });
    // retried after contact.user.updated made grace known
    expect(byMetric.get('Ticket Created')).toMatchObject({
      unique_id: 'intercom:ticket:2189:created',
      profile: { email: 'grace@example.org' },
    });
    expect(events.map((e) => e.key)).toContain('6571f0a1b2c3d4e5f6a7b8c9');

    const profiles = await Promise.all(tap.of(T.profiles).map((p) => reader.open(profileFromAvro(p.value))));
    expect(profiles.every((p) => p.email !== undefined || p.phone_number !== undefined)).toBe(true);
    expect(tap.of(T.profiles).every((p) => p.value.email === null && p.value.personal !== null)).toBe(true);
    expect(profiles.map((p) => p.intercom_contact_id)).toEqual(
      expect.arrayContaining(['6571f0a1b2c3d4e5f6a7b8c9', '6571f0a1b2c3d4e5f6a7b8d1']),
    );

    // the conversation of a contact that never becomes identifiable ends in the retry DLQ with the reason
    const retryLetters = await waitFor(() => tap.of(T.retryDlq).length >= 1 && tap.of(T.retryDlq), {
      what: 'the retry dead letter',
      timeoutMs: 30_000,
    });
    const gaveUp = deadLetterFromAvro(retryLetters[0].value);
    expect(gaveUp.error_class).toBe('ContactNotIdentifiableError');
    expect(gaveUp.error_message).toMatch(/6571f0a1b2c3d4e5f6a7b8d0/);
    expect((await codec.decodeAs('notifications', Buffer.from(gaveUp.value!))).notification_id).toBe(
      'notif_lead_conversation',
    );

    // an unknown Intercom topic is acknowledged and counted (its name bounded to "other" as a label)
    expect(runner.tally.countReason('skip', 'unmapped_topic')).toBe(1);
    expect(events).toHaveLength(2);
  });

  it('a pre-2.0 payload is dead-lettered at once with the fix in its reason; a Subscription naming no contact is skipped', async () => {
    const pendingBefore = runner.tally.count('pending');
    const skippedBefore = runner.tally.count('skip');
    await produceRaw(kafka, codec, config, [
      rawFromEnvelope(fixture('conversation.user.created.legacy_1_x')),
      rawFromEnvelope(fixture('contact.unsubscribed.no_contact')),
    ]);
    const legacy = await waitFor(
      () =>
        tap
          .of(T.rawDlq)
          .map((l) => deadLetterFromAvro(l.value))
          .find((l) => l.error_class === 'MappingError'),
      {
        what: 'the pre-2.0 payload in the raw dead-letter topic',
        timeoutMs: 20_000,
      },
    );
    expect(legacy.error_message).toMatch(/pre-2\.0 API shape.*API version to 2\.x/);
    expect((await codec.decodeAs('notifications', Buffer.from(legacy.value!))).notification_id).toBe(
      'notif_0a1b2c3d-1111-4e5f-8a9b-000000000099',
    );
    await waitFor(() => runner.tally.count('skip') > skippedBefore, { what: 'the subscription skipped' });
    expect(runner.tally.count('pending')).toBe(pendingBefore); // neither waits in the retry topic
  });
});
