import { connectionOf, type KlaviyoDeletionRecord, KlaviyoEventRecord, KlaviyoProfileRecord } from '@iks/domain';
import type { OutcomeSubject } from '@iks/stage';

/** What an outcome on klaviyo.outcomes.v1 says about the record the sink consumed (Klaviyo's view of it). */
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
      properties_json: JSON.stringify(r.properties),
      backfill: r.backfill,
      source_notification_id: r.source_notification_id,
      connection_id: connectionOf(r),
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
      properties_json: JSON.stringify(attributes),
      backfill: r.backfill,
      source_notification_id: r.source_notification_id,
      connection_id: connectionOf(r),
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
  };
}
