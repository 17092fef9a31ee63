import type { Kafka, Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import type { DeadLetter, DeliveryOutcome, KlaviyoDeletionRecord, KlaviyoEventRecord } from '@iks/domain';
import { sealPersonal, SubjectKeys } from '@iks/erasure';
import { topic, type AvroCodec } from '@iks/kafka';
import { GapsModel } from './gaps-model';
import { DeliveryReadModel } from './read-model';
import { ReadModelFeed } from './read-model.feed';

const ann = { connectionId: 'default', contactId: 'c-ann' };
const event: KlaviyoEventRecord = {
  kind: 'event',
  metric: 'Conversation Created',
  profile: { email: 'ann@example.com', phone_number: '+33612345678' },
  properties: { plan: 'gold-ann' },
  time: '2026-12-07T07:00:00Z',
  unique_id: 'intercom:conversation:1:created',
  backfill: false,
  intercom_contact_id: 'c-ann',
  source_notification_id: 'n1',
  source_topic: 'conversation.user.created',
};
const outcomeOf = (personal: Buffer, offset: string): DeliveryOutcome => ({
  topic: 'klaviyo.events.v1',
  partition: 0,
  offset,
  stage: 'sink',
  kind: 'delivered',
  reason: 'delivered',
  error_code: null,
  record_kind: 'event',
  metric: event.metric,
  unique_id: `${event.unique_id}:${offset}`,
  intercom_contact_id: 'c-ann',
  email: null,
  phone_number: null,
  event_time: event.time,
  record_timestamp: 1,
  outcome_at: Date.now(),
  properties_json: null,
  backfill: false,
  source_notification_id: 'n1',
  received_at: null,
  personal,
});

/** The feed with a codec that hands back the records it is given, and SubjectKeys with its real crypto (no broker). */
function feedOf(decoded: Map<string, unknown>) {
  const codec = {
    decodeAs: async (_k: string, v: Buffer) => decoded.get(v.toString())!,
    decode: async (v: Buffer) => decoded.get(v.toString())!,
  } as unknown as AvroCodec;
  const keys = new SubjectKeys(
    {} as Kafka,
    { encodeAs: async () => Buffer.from('k') } as unknown as AvroCodec,
    { send: async () => [] } as unknown as Producer,
    null,
    topic('subjectKeys'),
    'g',
  );
  const model = new DeliveryReadModel();
  const config = { kafka: { topicPrefix: '' } } as unknown as Config;
  return { feed: new ReadModelFeed({} as Kafka, codec, model, new GapsModel(), config, null, keys), keys, model };
}

describe('ReadModelFeed opening sealed outcomes (docs/ERASURE.md)', () => {
  it("shows an outcome's sealed email, phone and properties; once her keys are destroyed, 'erased' and nothing of her", async () => {
    const decoded = new Map<string, unknown>();
    const { feed, keys, model } = feedOf(decoded);
    const sealed = (await sealPersonal(keys, event)).personal!;
    decoded.set('o1', outcomeOf(sealed, '1'));
    await feed.applyOne('klaviyo.outcomes.v1', 0, { offset: '0', value: Buffer.from('o1'), key: null, timestamp: '0' });
    const [view] = model.person('ann@example.com');
    expect([view.email, view.phone, view.contactId]).toEqual(['ann@example.com', '+33612345678', 'c-ann']);
    expect(model.isErased('c-ann')).toBe(false);

    await keys.erase(ann);
    // a console started after the erasure (it has read her marker from the keys' topic) reads the same outcome: nothing opens
    const later = feedOf(decoded);
    await later.keys.erase(ann);
    await later.feed.applyOne('klaviyo.outcomes.v1', 0, {
      offset: '0',
      value: Buffer.from('o1'),
      key: null,
      timestamp: '0',
    });
    expect(later.model.person('ann@example.com')).toEqual([]);
    expect(later.model.person('c-ann').map((v) => [v.email, v.phone])).toEqual([[null, null]]);
    expect(later.model.isErased('c-ann')).toBe(true);

    // a dead letter of a sealed record: its personal field shown opened, or "erased"
    const letter: DeadLetter = {
      original_topic: 'klaviyo.events.v1',
      partition: 0,
      offset: '3',
      key: Buffer.from('c-ann'),
      value: Buffer.from('record'),
      headers: [],
      stage: 'sink',
      error_class: 'KlaviyoRejectedError',
      error_message: 'Klaviyo 400',
      error_code: null,
      retriable: false,
      attempts: 1,
      first_failure_at: 1,
      last_failure_at: 1,
    };
    decoded.set('letter', letter);
    decoded.set('record', { intercom_contact_id: 'c-ann', connection_id: 'default', personal: sealed, email: null });
    await later.feed.applyOne('klaviyo.events.v1.dlq', 0, {
      offset: '0',
      value: Buffer.from('letter'),
      key: null,
      timestamp: '0',
    });
    const shown = [...later.model.letters.values()][0];
    expect(shown.decoded).toContain('"personal": "erased"');
    expect(shown.decoded).not.toContain('ann@example.com');
  });

  it("a delivered deletion's outcome marks her erased even while this console's keys still open it (the sink destroyed them first)", async () => {
    const decoded = new Map<string, unknown>();
    const { feed, keys, model } = feedOf(decoded);
    const deletion: KlaviyoDeletionRecord = {
      kind: 'deletion',
      intercom_contact_id: 'c-ann',
      email: 'ann@example.com',
      requested_at: 1,
      source_notification_id: 'n9',
    };
    const sealed = (await sealPersonal(keys, deletion)).personal!;
    const deletionOutcome = (kind: DeliveryOutcome['kind']): DeliveryOutcome => ({
      ...outcomeOf(sealed, '7'),
      topic: 'klaviyo.deletions.v1',
      kind,
      reason: kind,
      record_kind: 'deletion',
      metric: null,
      unique_id: null,
    });
    /** The feed reads the deletion's outcome of this kind, at this offset. */
    const read = async (kind: DeliveryOutcome['kind'], offset: string) => {
      decoded.set(`d-${kind}`, deletionOutcome(kind));
      await feed.applyOne('klaviyo.outcomes.v1', 0, {
        offset,
        value: Buffer.from(`d-${kind}`),
        key: null,
        timestamp: '0',
      });
    };
    // a retried deletion: Klaviyo has not accepted it, her keys stay
    await read('retried', '6');
    expect(model.isErased('c-ann')).toBe(false);
    // delivered: the keys are still in this process (its follower has not read the tombstones), yet she is erased
    await read('delivered', '7');
    expect(keys.isErased(ann)).toBe(false);
    expect(model.isErased('c-ann')).toBe(true);
    expect(model.deletedPerson('c-ann')).toMatchObject({ contactId: 'c-ann', state: 'delivered' });
  });
});
