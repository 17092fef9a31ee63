/**
 * Issue #10 item 3, through a real broker and the Klaviyo emulator: Ada (email a, phone p1) and Bob
 * (email b, phone p2) exist, then Ada's phone becomes p2. Klaviyo answers her upsert 409
 * duplicate_profile; the sink upserts her again by email without the phone, so her profile and
 * her events stay on ONE profile, Bob keeps his, nothing is dead-lettered, and a `replay --group`
 * of the events adds nothing at Klaviyo.
 */
import type { Config } from '@iks/config';
import type { KlaviyoEventRecord, KlaviyoProfileRecord } from '@iks/domain';
import { createKafka, eventToAvro, profileToAvro, topicName, type TopicKey } from '@iks/kafka';
import { PHONE_DROPPED_NOTE } from '@iks/klaviyo';
import { mapContactToProfile, staticLookups, toE164 } from '@iks/mapping';
import { createSinkRunner, type SinkRunner } from '@iks/sink';
import { runReplayCommand } from '../../apps/cli/src/commands/replay.command';
import type { IntercomContact } from '@iks/intercom';
import { generateDataset } from '../../tools/intercom-emulator/src';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../tools/klaviyo-emulator/src';
import { testConfig } from '../support/test-config';
import { waitFor } from '../support/wait-for';
import { prepareFreshTopics } from '../../tools/support/fresh-topics';

const API_KEY = 'pk_test_conflicts_0123456789';
const { identifierConflict, ...dataset } = generateDataset({
  seed: 10,
  contacts: 0,
  conversations: 0,
  tickets: 0,
  identifierConflict: true,
});
const { before: ada, holder: bob, after: adaWithBobsPhone } = identifierConflict!;
/** The emulator's objects as the pipeline receives them: JSON. */
const json = (x: unknown) => JSON.parse(JSON.stringify(x));
const lookups = staticLookups(json({ contacts: dataset.contacts, tags: dataset.tags }));

const profile = (c: IntercomContact, n: number): KlaviyoProfileRecord =>
  mapContactToProfile(json(c), lookups, { notificationId: `notif_profile_${n}`, backfill: false });

/** Seven Conversation Created events of a contact, identified as the transformer identifies them. */
function events(c: IntercomContact, from: number): KlaviyoEventRecord[] {
  return Array.from({ length: 7 }, (_, k) => ({
    kind: 'event',
    metric: 'Conversation Created',
    profile: { email: c.email, phone_number: toE164(c.phone) },
    properties: { 'Conversation ID': String(from + k) },
    time: '2026-01-22T03:04:05Z',
    unique_id: `intercom:conversation:${from + k}:created`,
    backfill: false,
    intercom_contact_id: c.id,
    source_notification_id: `notif_${from + k}`,
    source_topic: 'conversation.user.created',
  }));
}

async function produce(
  config: Config,
  key: TopicKey,
  records: ReadonlyArray<KlaviyoEventRecord | KlaviyoProfileRecord>,
): Promise<void> {
  const kafka = createKafka(config.kafka);
  const codec = await prepareFreshTopics(config);
  const topic = topicName(key, config.kafka.topicPrefix);
  const producer = kafka.producer();
  await producer.connect();
  // one send per record: a contact's upserts keep their order (same key, same partition)
  for (const r of records) {
    const value = r.kind === 'event' ? eventToAvro(r) : profileToAvro(r);
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: r.intercom_contact_id, value: await codec.encode(topic, value) }],
    });
  }
  await producer.disconnect();
}

const quiet = { prompt: { isTTY: false, ask: async () => 'n' } };
const silentIo = { stdout: () => undefined, stderr: () => undefined };

describe('identifier conflicts at Klaviyo (real broker, Klaviyo emulator)', () => {
  let emulator: KlaviyoEmulator;
  let sink: SinkRunner | undefined;

  beforeEach(async () => {
    emulator = await startKlaviyoEmulator({ port: 0 });
  });
  afterEach(async () => {
    await sink?.stop();
    sink = undefined;
    await emulator.close();
  });

  it("a conflicting upsert and the person's events end on ONE profile, nothing dead-lettered; replay --group adds nothing", async () => {
    const config = testConfig('sink', {
      KLAVIYO_API_KEY: API_KEY,
      KLAVIYO_BASE_URL: emulator.url,
      SINK_BATCH_MAX_WAIT_MS: '50',
      SINK_RETRY_MAX_MS: '60000',
    });
    // the order: Ada and Bob created, then Ada takes Bob's phone
    await produce(config, 'profiles', [profile(ada, 1), profile(bob, 2), profile(adaWithBobsPhone, 3)]);
    const allEvents = [...events(ada, 100), ...events(bob, 200), ...events(adaWithBobsPhone, 300)];
    sink = await createSinkRunner(config);
    await sink.start();
    await waitFor(() => sink!.tally.count('done') === 3, { what: 'the three upserts', timeoutMs: 60_000 });
    await produce(config, 'events', allEvents);
    await waitFor(() => emulator.store.eventsStored === 21, { what: '21 events at the emulator', timeoutMs: 60_000 });

    // Klaviyo refused Ada's update once (409); the sink sent it again without the phone
    expect(emulator.store.statusCounts['409']).toBe(1);
    expect(sink.tally.noteCount(PHONE_DROPPED_NOTE)).toBe(1);
    expect(sink.tally.count('dead_letter')).toBe(0);

    const profiles = emulator.store.profiles();
    expect(profiles).toHaveLength(2);
    const adaProfile = emulator.store.findProfile({ email: ada.email })!;
    const bobProfile = emulator.store.findProfile({ email: bob.email })!;
    expect(adaProfile).toMatchObject({
      phone_number: '+12025550101',
      properties: expect.objectContaining({ 'Intercom Contact ID': ada.id }),
    });
    expect(bobProfile).toMatchObject({
      phone_number: '+12025550102',
      properties: expect.objectContaining({ 'Intercom Contact ID': bob.id }),
    });
    const onProfile = (id: string) =>
      emulator.store.events
        .filter((e) => e.profileId === id)
        .map((e) => e.unique_id)
        .sort();
    expect(onProfile(adaProfile.id)).toEqual(
      [...events(ada, 100), ...events(adaWithBobsPhone, 300)].map((e) => e.unique_id).sort(),
    );
    expect(onProfile(bobProfile.id)).toEqual(
      events(bob, 200)
        .map((e) => e.unique_id)
        .sort(),
    );

    // replay --group: stop the sink, reset its group to the beginning of the events, start it again
    await sink.stop();
    sink = undefined;
    const code = await runReplayCommand(
      ['--topic', 'klaviyo.events.v1', '--from-beginning', '--group', config.sink.groupId, '--yes'],
      config,
      silentIo,
      quiet,
    );
    expect(code).toBe(0);
    sink = await createSinkRunner(config);
    await sink.start();
    await waitFor(() => emulator.store.duplicateEventsIgnored >= 21, {
      what: 'the replayed 21 events at the emulator',
      timeoutMs: 60_000,
    });
    expect(emulator.store.eventsStored).toBe(21);
    expect(emulator.store.duplicateEventsIgnored).toBe(21);
    expect(emulator.store.profiles()).toHaveLength(2);
    expect(sink.tally.count('dead_letter')).toBe(0);
  });
});
