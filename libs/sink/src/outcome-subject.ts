import { connectionOf, type KlaviyoDeletionRecord, KlaviyoEventRecord, KlaviyoProfileRecord } from '@iks/domain';
import type { OutcomeSubject } from '@iks/stage';

/**
 * What an outcome on klaviyo.outcomes.v1 says about the record the sink consumed (Klaviyo's view
 * of it). Of a sealed record (docs/ERASURE.md) it says what the record says in clear, and carries
 * the record's sealed `personal` field as is: the outcome's email, phone and properties are in
 * there, under the person's key (libs/erasure outcomePersonal reads them).
 */
export function outcomeSubject(r: KlaviyoEventRecord | KlaviyoProfileRecord | KlaviyoDeletionRecord): OutcomeSubject {
  if (r.kind === 'event') {
    return {
      record_kind: 'event',
      metric: r.metric,
      unique_id: r.unique_id,
      intercom_contact_id: r.intercom_contact_id,
      email: r.profile.email ?? null,
      phone_number: r.profile.phone_number ?? null,
      event_time: r.time,
      properties_json: r.personal ? null : JSON.stringify(r.properties),
      backfill: r.backfill,
      source_notification_id: r.source_notification_id,
      connection_id: connectionOf(r),
      personal: r.personal ?? null,
    };
  }
  if (r.kind === 'profile') {
    const attributes = {
      first_name: r.first_name,
      last_name: r.last_name,
      image: r.image,
      location: r.location,
      properties: r.properties,
    };
    return {
      record_kind: 'profile',
      metric: null,
      unique_id: null,
      intercom_contact_id: r.intercom_contact_id,
      email: r.email ?? null,
      phone_number: r.phone_number ?? null,
      event_time: null,
      properties_json: r.personal ? null : JSON.stringify(attributes),
      backfill: r.backfill,
      source_notification_id: r.source_notification_id,
      connection_id: connectionOf(r),
      personal: r.personal ?? null,
    };
  }
  return {
    record_kind: 'deletion',
    metric: null,
    unique_id: null,
    intercom_contact_id: r.intercom_contact_id,
    email: r.email ?? null,
    phone_number: r.phone_number ?? null,
    event_time: new Date(r.requested_at).toISOString(),
    properties_json: null,
    backfill: false,
    source_notification_id: r.source_notification_id,
    connection_id: connectionOf(r),
    personal: r.personal ?? null,
  };
}
