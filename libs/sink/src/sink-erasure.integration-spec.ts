import type { INestApplicationContext } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import type { DeliveryOutcome, KlaviyoDeletionRecord, KlaviyoEventRecord } from '@iks/domain';
import { ErasureModule, sealPersonal, SubjectKeys, unclaimedSubject, type Subject } from '@iks/erasure';
import { AvroCodec, KAFKA, PRODUCER, prepareStage, topic, topicName } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../tools/klaviyo-emulator/src';
import { TopicTap } from '../../../test/support/raw-topic';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import type { SinkRunner, SinkRunOptions } from './sink.runner';
import { createSinkRunner } from './sink-stage.module';

const API_KEY = 'pk_test_sink_erasure_0123456789';
const ann: Subject = { connectionId: 'default', contactId: 'c-ann' };
const ANN = { email: 'ann.erasure@example.com', phone: '+33612345678', secret: 'gold-plan-of-ann' };

const event = (n: number, who = 'c-ann', email = ANN.email): KlaviyoEventRecord => ({
  kind: 'event',
  metric: 'Conversation Created',
  profile: { email, phone_number: ANN.phone },
  properties: { 'Conversation ID': `${who}-${n}`, plan: ANN.secret },
  time: '2026-12-07T07:00:00Z',
  unique_id: `intercom:conversation:${who}-${n}:created`,
  backfill: false,
  intercom_contact_id: who,
  source_notification_id: `n-${who}-${n}`,
  source_topic: 'conversation.user.created',
});
const deletion = (who = 'c-ann', email = ANN.email): KlaviyoDeletionRecord => ({
  kind: 'deletion',
  intercom_contact_id: who,
  email,
  requested_at: Date.now(),
  source_notification_id: `n-del-${who}`,
});

describe('sink: sealed records, erasure after Klaviyo accepted the deletion (real broker, docs/ERASURE.md)', () => {
  jest.setTimeout(180_000);
  let emulator: KlaviyoEmulator;
  let config: Config;
  /** The transformer's side: a process that seals records under the people's keys and writes them. */
  let writer: INestApplicationContext;
  let keys: SubjectKeys;
  let tap: TopicTap;
  const runners: SinkRunner[] = [];
  const start = async (run: SinkRunOptions = {}, deletedSet = 'live') => {
    // each runner its own deleted set on disk (a replay on another machine, or after the set was lost)
    const c: Config = {
      ...config,
      sink: { ...config.sink, deletedContactsPath: `${config.sink.deletedContactsPath}-${deletedSet}` },
    };
    const r = await createSinkRunner(c, { run });
    runners.push(r);
    await r.start();
    return r;
  };

  async function write(records: ReadonlyArray<KlaviyoEventRecord | KlaviyoDeletionRecord>): Promise<void> {
    const codec = writer.get(AvroCodec);
    const p = config.kafka.topicPrefix;
    for (const r of records) {
      const sealed = await sealPersonal(keys, r);
      const value =
        sealed.kind === 'event'
          ? await codec.encodeAs(topic('events', p), sealed)
          : await codec.encodeAs(topic('deletions', p), sealed as KlaviyoDeletionRecord);
      await writer.get<Producer>(PRODUCER).send({
        topic: topicName(r.kind === 'event' ? 'events' : 'deletions', p),
        acks: -1,
        messages: [{ key: r.intercom_contact_id, value }],
      });
    }
  }

  const outcomes = async (): Promise<DeliveryOutcome[]> => {
    const codec = writer.get(AvroCodec);
    return Promise.all(
      tap.of(topicName('outcomes', config.kafka.topicPrefix)).map((r) => codec.decodeAs('outcomes', r.raw.value)),
    );
  };
  const sentFor = (email: string) => ({
    events: emulator.store.events.filter((e) => JSON.stringify(e).includes(email)).length,
    deletions: emulator.store.deletions.filter((d) => JSON.stringify(d).includes(email)).length,
  });

  beforeEach(async () => {
    emulator = await startKlaviyoEmulator({ port: 0 });
    config = testConfig('sink', {
      KLAVIYO_API_KEY: API_KEY,
      KLAVIYO_BASE_URL: emulator.url,
      SINK_BATCH_MAX_WAIT_MS: '50',
      LOG_LEVEL: 'error',
      INTERCOM_APP_ID: 'ws-erasure',
    });
    writer = await createContext(config, 'cli', ErasureModule);
    await prepareStage(writer.get<Kafka>(KAFKA), config.kafka, writer.get(AvroCodec), writer.get<Producer>(PRODUCER));
    keys = writer.get(SubjectKeys);
    await keys.start();
    tap = new TopicTap(writer.get<Kafka>(KAFKA), writer.get(AvroCodec), `${config.kafka.topicPrefix}tap`);
    await tap.start([topicName('outcomes', config.kafka.topicPrefix)]);
  });
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop();
    await tap.stop();
    await keys.stop();
    await writer.get<Producer>(PRODUCER).disconnect();
    await writer.close();
    await emulator.close();
  });

  it('delivers sealed records opened; once Klaviyo accepted her deletion her keys are gone, later and replayed records are `erased` and nothing is sent', async () => {
    await write([event(1), event(2), event(1, 'c-bob', 'bob.erasure@example.com')]);
    await start();
    await waitFor(() => emulator.store.eventsStored === 3, { what: 'three events in Klaviyo', timeoutMs: 60_000 });
    // delivered opened: Klaviyo got her email, phone and properties
    expect(sentFor(ANN.email).events).toBe(2);
    expect(JSON.stringify(emulator.store.events)).toContain(ANN.secret);
    expect(keys.keyCount(ann)).toBe(1);
    await write([deletion()]);
    await waitFor(() => emulator.store.deletions.length === 1, {
      what: "Ann's deletion in Klaviyo",
      timeoutMs: 60_000,
    });
    expect(sentFor(ANN.email).deletions).toBe(1);
    // the sink destroyed her keys after Klaviyo's answer: the writer hears of it
    await waitFor(() => keys.isErased(ann), { what: "Ann's marker reaches the writer" });
    expect(keys.keyCount(ann)).toBe(0);
    // and what ingest sealed for her while her workspace had no connection (the unclaimed topic)
    const unclaimedAnn = unclaimedSubject('ws-erasure', 'c-ann');
    await waitFor(() => keys.isErased(unclaimedAnn), { what: "Ann's unclaimed subject erased too" });
    expect(keys.isErased(unclaimedSubject('ws-erasure', 'c-bob'))).toBe(false);

    // a later event of hers (sealed under a throw-away key now) and Bob's next one
    await write([event(3), event(2, 'c-bob', 'bob.erasure@example.com')]);
    await waitFor(async () => (await outcomes()).length >= 6, { what: 'six outcomes', timeoutMs: 60_000 });
    const live = await outcomes();
    expect(live.filter((o) => o.unique_id === event(3).unique_id).map((o) => [o.kind, o.reason])).toEqual([
      ['skipped', 'erased'],
    ]);
    // nothing more of hers reached Klaviyo: Bob's second event only
    expect([emulator.store.eventsStored, emulator.store.deletions.length]).toEqual([4, 1]);
    expect(sentFor('bob.erasure@example.com').events).toBe(2);
    // the outcomes hold her personal fields only sealed
    const outcomeBytes = tap
      .of(topicName('outcomes', config.kafka.topicPrefix))
      .map((r) => r.raw.value!.toString('latin1'))
      .join('\n');
    for (const v of Object.values(ANN)) expect(outcomeBytes).not.toContain(v);

    // a replay from the beginning in a group of its own: her records do not open, nothing of her is sent again
    const before = emulator.store.events.length;
    const replay = await start({ groupId: `${config.kafka.topicPrefix}replay`, mode: 'replay' }, 'replay');
    await waitFor(async () => (await outcomes()).length >= 12, { what: 'the replay outcomes', timeoutMs: 60_000 });
    const replayed = (await outcomes()).slice(6);
    const hers = replayed.filter((o) => o.intercom_contact_id === 'c-ann');
    expect(hers.map((o) => [o.record_kind, o.kind, o.reason]).sort()).toEqual(
      [
        ['deletion', 'skipped', 'erased'],
        ['event', 'skipped', 'erased'],
        ['event', 'skipped', 'erased'],
        ['event', 'skipped', 'erased'],
      ].sort(),
    );
    expect(replayed.filter((o) => o.intercom_contact_id === 'c-bob').every((o) => o.kind === 'delivered')).toBe(true);
    // nothing of her sent again; Bob's copies are repeats Klaviyo drops (same unique_id)
    expect([emulator.store.eventsStored, emulator.store.deletions.length]).toEqual([4, 1]);
    expect(emulator.store.events.length).toBe(before);
    expect(sentFor(ANN.email)).toEqual({ events: 2, deletions: 1 }); // what she had before the deletion, nothing added
    expect(replay.tally).toBeDefined();
  });

  it('a deletion Klaviyo keeps refusing waits with her keys kept; they are destroyed once Klaviyo accepts it', async () => {
    emulator.faults.next500(100_000, 'request_profile_deletion');
    await write([event(1)]);
    const sealedBefore = await sealPersonal(keys, event(9));
    await start();
    await waitFor(() => emulator.store.eventsStored === 1, { what: 'her event in Klaviyo', timeoutMs: 60_000 });
    await write([deletion()]);
    await waitFor(() => (emulator.store.statusCounts['500'] ?? 0) >= 3, {
      what: 'Klaviyo refusing the deletion',
      timeoutMs: 60_000,
    });
    await new Promise((r) => setTimeout(r, 3000));
    expect(emulator.store.deletions).toHaveLength(0);
    expect(keys.isErased(ann)).toBe(false);
    expect(keys.keyCount(ann)).toBe(1);
    expect(sentFor(ANN.email).events).toBe(1);
    emulator.faults.clear();
    await waitFor(() => emulator.store.deletions.length === 1, {
      what: 'the deletion accepted at last',
      timeoutMs: 120_000,
    });
    await waitFor(() => keys.isErased(ann), { what: 'her keys destroyed after it', timeoutMs: 30_000 });
    await expect(keys.open(ann, sealedBefore.personal!)).rejects.toThrow(/erased/);
  });
});
