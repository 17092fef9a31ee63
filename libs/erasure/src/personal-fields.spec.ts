import type { Kafka, Producer } from 'kafkajs';
import type {
  ContactSnapshot,
  DeliveryOutcome,
  KlaviyoDeletionRecord,
  KlaviyoEventRecord,
  KlaviyoProfileRecord,
} from '@iks/domain';
import {
  deletionFromAvro,
  deletionToAvro,
  eventFromAvro,
  eventToAvro,
  outcomeFromAvro,
  outcomeToAvro,
  profileFromAvro,
  profileToAvro,
  contactFromAvro,
  contactToAvro,
  topic,
  type AvroCodec,
} from '@iks/kafka';
import {
  joinPersonal,
  NoSubjectError,
  openOutcome,
  openPersonal,
  outcomePersonal,
  sealPersonal,
  splitPersonal,
  subjectOf,
} from './personal-fields';
import { ErasedSubjectError, SubjectKeys } from './subject-keys';

/** SubjectKeys with its real crypto and key memory; the keys' topic is a list of what it would write. */
function keysInMemory(): { keys: SubjectKeys; written: unknown[] } {
  const written: unknown[] = [];
  const codec = {
    encodeAs: async (_t: unknown, r: unknown) => (written.push(r), Buffer.from('k')),
  } as unknown as AvroCodec;
  const producer = { send: async () => [] } as unknown as Producer;
  const keys = new SubjectKeys({} as Kafka, codec, producer, null, topic('subjectKeys', 't.'), 'g');
  return { keys, written };
}

const event: KlaviyoEventRecord = {
  kind: 'event',
  metric: 'Conversation Created',
  profile: { email: 'ann@example.com', phone_number: '+33612345678' },
  properties: { conversation_id: '7', subject: 'my order for Ann' },
  time: '2026-12-07T07:00:00Z',
  unique_id: 'intercom:conversation:7:created',
  backfill: false,
  intercom_contact_id: 'c-ann',
  source_notification_id: 'n1',
  source_topic: 'conversation.user.created',
  connection_id: 'acme',
};
const profile: KlaviyoProfileRecord = {
  kind: 'profile',
  intercom_contact_id: 'c-ann',
  email: 'ann@example.com',
  phone_number: '+33612345678',
  first_name: 'Ann',
  last_name: 'Lovelace',
  image: 'https://img.example.com/ann.png',
  location: { city: 'Lyon', country: 'France' },
  properties: { plan: 'gold-ann' },
  updated_at: 1700000000,
  backfill: false,
  source_notification_id: 'n2',
};
const deletion: KlaviyoDeletionRecord = {
  kind: 'deletion',
  intercom_contact_id: 'c-ann',
  email: 'ann@example.com',
  phone_number: '+33612345678',
  requested_at: 1700000001000,
  source_notification_id: 'n3',
};
const snapshot: ContactSnapshot = {
  id: 'c-ann',
  deleted: false,
  contact_json: JSON.stringify({ id: 'c-ann', email: 'ann@example.com', name: 'Ann Lovelace' }),
  recorded_at: 1700000000500,
};
const PERSONAL = [
  'ann@example.com',
  '+33612345678',
  'Ann',
  'Lovelace',
  'Lyon',
  'gold-ann',
  'my order for Ann',
  'ann.png',
];

/** Every personal value found in the Avro form's bytes (JSON of the Avro record; Buffers as their bytes). */
const leaks = (avro: object): string[] => {
  const text = JSON.stringify(avro, (_k, v: unknown) =>
    v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
      ? Buffer.from((v as { data: number[] }).data).toString('latin1')
      : v,
  );
  return PERSONAL.filter((p) => text.includes(p));
};

describe('personal fields: split, seal, open (docs/ERASURE.md)', () => {
  it('split keeps ids, metric, times, unique_id and connection clear and empties every personal field; join gives the record back', () => {
    for (const r of [event, profile, deletion, snapshot]) {
      const { clear, personal } = splitPersonal(r);
      expect(personal).not.toBeNull();
      expect(leaks(clear)).toEqual([]);
      expect(joinPersonal(clear, personal!)).toEqual(r);
    }
    const { clear } = splitPersonal(event);
    expect(clear).toMatchObject({
      metric: event.metric,
      unique_id: event.unique_id,
      time: event.time,
      intercom_contact_id: 'c-ann',
      connection_id: 'acme',
      profile: {},
      properties: {},
    });
    // a directory tombstone has nothing personal
    const tombstone: ContactSnapshot = { id: 'c-ann', deleted: true, contact_json: null, recorded_at: 1 };
    expect(splitPersonal(tombstone)).toEqual({ clear: tombstone, personal: null });
  });

  it('a sealed record holds no personal value in its Avro form, reads back through the serdes and opens to the original', async () => {
    const { keys } = keysInMemory();
    const cases = [
      [event, eventToAvro, eventFromAvro],
      [profile, profileToAvro, profileFromAvro],
      [deletion, deletionToAvro, deletionFromAvro],
      [snapshot, contactToAvro, contactFromAvro],
    ] as const;
    for (const [r, to, from] of cases) {
      const sealed = await sealPersonal(keys, r);
      const avro = (to as (x: typeof sealed) => object)(sealed);
      expect(leaks(avro)).toEqual([]);
      expect((avro as { personal: Buffer }).personal).toBeInstanceOf(Buffer);
      const back = (from as (a: object) => typeof r)(avro);
      expect(await openPersonal(keys, back)).toEqual(r);
    }
  });

  it('a record written before sealing reads and opens as it was (clear fields, no personal)', async () => {
    const { keys } = keysInMemory();
    const old = { ...eventToAvro(event), personal: null };
    expect(await openPersonal(keys, eventFromAvro(old))).toEqual(event);
    // an Avro record of the old schema has no personal field at all
    const { personal: _none, ...older } = eventToAvro(event);
    expect(await openPersonal(keys, eventFromAvro(older as never))).toEqual(event);
  });

  it('the subject is the connection and the Intercom contact id; the key of one person does not open another', async () => {
    const { keys } = keysInMemory();
    expect(subjectOf(event)).toEqual({ connectionId: 'acme', contactId: 'c-ann' });
    expect(subjectOf(profile)).toEqual({ connectionId: 'default', contactId: 'c-ann' });
    expect(subjectOf(snapshot)).toEqual({ connectionId: 'default', contactId: 'c-ann' });
    const sealed = await sealPersonal(keys, profile);
    await sealPersonal(keys, { ...profile, intercom_contact_id: 'c-bob' }); // Bob has a key of his own
    expect(() => keys.unseal({ connectionId: 'default', contactId: 'c-bob' }, sealed.personal!)).toThrow(
      ErasedSubjectError,
    );
  });

  it('after erase, every record of the person fails with ErasedSubjectError, later ones included; others still open', async () => {
    const { keys, written } = keysInMemory();
    const before = await sealPersonal(keys, profile);
    const bob = await sealPersonal(keys, { ...profile, intercom_contact_id: 'c-bob', email: 'bob@example.com' });
    expect(written).toHaveLength(2); // one key per person, written before its first use
    expect(await keys.erase({ connectionId: 'default', contactId: 'c-ann' })).toBe(1);
    await expect(openPersonal(keys, before)).rejects.toBeInstanceOf(ErasedSubjectError);
    const after = await sealPersonal(keys, profile); // a throw-away key, never stored
    expect(written).toHaveLength(3); // the marker only
    await expect(openPersonal(keys, after)).rejects.toBeInstanceOf(ErasedSubjectError);
    expect((await openPersonal(keys, bob)).email).toBe('bob@example.com');
  });

  it('a record with personal fields and no contact id is refused, never written clear; one with nothing personal goes as it is', async () => {
    const { keys } = keysInMemory();
    await expect(sealPersonal(keys, { ...event, intercom_contact_id: null })).rejects.toBeInstanceOf(NoSubjectError);
    const bare = { ...event, intercom_contact_id: null, profile: {}, properties: {} };
    expect(await sealPersonal(keys, bare)).toEqual(bare);
  });

  it("an outcome carries the record's sealed field as is and opens into the email, phone and properties the sink shows", async () => {
    const { keys } = keysInMemory();
    const sealed = await sealPersonal(keys, event);
    const outcome: DeliveryOutcome = {
      topic: 'klaviyo.events.v1',
      partition: 0,
      offset: '3',
      stage: 'sink',
      kind: 'delivered',
      reason: 'delivered',
      error_code: null,
      record_kind: 'event',
      metric: event.metric,
      unique_id: event.unique_id,
      intercom_contact_id: 'c-ann',
      email: null,
      phone_number: null,
      event_time: event.time,
      record_timestamp: 1,
      outcome_at: 2,
      properties_json: null,
      backfill: false,
      source_notification_id: 'n1',
      received_at: null,
      connection_id: 'acme',
      personal: sealed.personal!,
    };
    const avro = outcomeToAvro(outcome);
    expect(leaks(avro)).toEqual([]);
    const opened = await openOutcome(keys, outcomeFromAvro(avro));
    expect(opened).toMatchObject({
      email: 'ann@example.com',
      phone_number: '+33612345678',
      properties_json: JSON.stringify(event.properties),
    });
    expect(opened.personal).toBeUndefined();
    const p = (await sealPersonal(keys, profile)).personal!;
    expect(JSON.parse(outcomePersonal('profile', await keys.open(subjectOf(profile)!, p)).properties_json!)).toEqual({
      first_name: 'Ann',
      last_name: 'Lovelace',
      image: 'https://img.example.com/ann.png',
      location: { city: 'Lyon', country: 'France' },
      properties: { plan: 'gold-ann' },
    });
  });
});
