import type {
  ContactSnapshot, DeadLetter, DeliveryOutcome, KlaviyoDeletionRecord, KlaviyoEventRecord, KlaviyoProfileRecord, PipelineOutage, RawNotification, ReconcileReportRecord,
} from '@iks/domain';

/**
 * Domain records ↔ their Avro form (schemas/*.avsc). Free-form JSON travels as a JSON
 * string field (`*_json`); optional values as Avro nulls.
 */

const n = <T>(v: T | undefined | null): T | null => (v === undefined ? null : v);
const u = <T>(v: T | null | undefined): T | undefined => (v === null || v === undefined ? undefined : v);

export function eventToAvro(e: KlaviyoEventRecord): Record<string, unknown> {
  return {
    metric: e.metric, unique_id: e.unique_id, time: e.time,
    email: n(e.profile.email), phone_number: n(e.profile.phone_number),
    properties_json: JSON.stringify(e.properties), backfill: e.backfill,
    intercom_contact_id: n(e.intercom_contact_id), source_notification_id: e.source_notification_id, source_topic: e.source_topic,
  };
}

export function eventFromAvro(a: any): KlaviyoEventRecord {
  const profile: { email?: string; phone_number?: string } = {};
  if (a.email != null) profile.email = a.email;
  if (a.phone_number != null) profile.phone_number = a.phone_number;
  return {
    kind: 'event', metric: a.metric, unique_id: a.unique_id, time: a.time, profile,
    properties: JSON.parse(a.properties_json), backfill: a.backfill,
    intercom_contact_id: a.intercom_contact_id ?? null, source_notification_id: a.source_notification_id, source_topic: a.source_topic,
  };
}

export function profileToAvro(p: KlaviyoProfileRecord): Record<string, unknown> {
  return {
    intercom_contact_id: p.intercom_contact_id, email: n(p.email), phone_number: n(p.phone_number),
    first_name: n(p.first_name), last_name: n(p.last_name), image: n(p.image),
    location_city: n(p.location?.city), location_country: n(p.location?.country), location_region: n(p.location?.region),
    properties_json: JSON.stringify(p.properties), updated_at: n(p.updated_at), backfill: p.backfill,
    source_notification_id: p.source_notification_id,
  };
}

export function profileFromAvro(a: any): KlaviyoProfileRecord {
  const location: { city?: string; country?: string; region?: string } = {};
  if (a.location_city != null) location.city = a.location_city;
  if (a.location_country != null) location.country = a.location_country;
  if (a.location_region != null) location.region = a.location_region;
  const p: Record<string, unknown> = {
    kind: 'profile', intercom_contact_id: a.intercom_contact_id,
    properties: JSON.parse(a.properties_json), updated_at: a.updated_at ?? null, backfill: a.backfill,
    source_notification_id: a.source_notification_id,
  };
  for (const k of ['email', 'phone_number', 'first_name', 'last_name', 'image'] as const) if (a[k] != null) p[k] = a[k];
  if (Object.keys(location).length > 0) p.location = location;
  return p as unknown as KlaviyoProfileRecord;
}

export function deletionToAvro(d: KlaviyoDeletionRecord): Record<string, unknown> {
  return {
    intercom_contact_id: d.intercom_contact_id, email: n(d.email), phone_number: n(d.phone_number),
    requested_at: d.requested_at, source_notification_id: d.source_notification_id,
  };
}

export function deletionFromAvro(a: any): KlaviyoDeletionRecord {
  return {
    kind: 'deletion', intercom_contact_id: a.intercom_contact_id, email: u(a.email), phone_number: u(a.phone_number),
    requested_at: Number(a.requested_at), source_notification_id: a.source_notification_id,
  };
}

export function notificationToAvro(r: RawNotification): Record<string, unknown> {
  return { ...r };
}

export function notificationFromAvro(a: any): RawNotification {
  return {
    notification_id: a.notification_id, topic: a.topic, app_id: a.app_id, created_at: Number(a.created_at),
    delivery_attempts: a.delivery_attempts, first_sent_at: a.first_sent_at == null ? null : Number(a.first_sent_at),
    received_at: Number(a.received_at), source: a.source, body: a.body,
  };
}

export function contactToAvro(c: ContactSnapshot): Record<string, unknown> {
  return { ...c };
}

export function contactFromAvro(a: any): ContactSnapshot {
  return { id: a.id, deleted: a.deleted, contact_json: a.contact_json ?? null, recorded_at: Number(a.recorded_at) };
}

export function deadLetterToAvro(d: DeadLetter): Record<string, unknown> {
  return { ...d, headers: [...d.headers] };
}

export function deadLetterFromAvro(a: any): DeadLetter {
  return {
    original_topic: a.original_topic, partition: a.partition, offset: a.offset, key: a.key ?? null, value: a.value ?? null,
    headers: a.headers ?? [], stage: a.stage, error_class: a.error_class, error_message: a.error_message,
    error_code: a.error_code ?? null, retriable: a.retriable, attempts: a.attempts,
    first_failure_at: Number(a.first_failure_at), last_failure_at: Number(a.last_failure_at),
  };
}

export function outcomeToAvro(o: DeliveryOutcome): Record<string, unknown> {
  return { ...o };
}

export function outcomeFromAvro(a: any): DeliveryOutcome {
  return {
    topic: a.topic, partition: a.partition, offset: a.offset, stage: a.stage, kind: a.kind, reason: a.reason,
    error_code: a.error_code ?? null, record_kind: a.record_kind ?? null, metric: a.metric ?? null, unique_id: a.unique_id ?? null,
    intercom_contact_id: a.intercom_contact_id ?? null, email: a.email ?? null, phone_number: a.phone_number ?? null,
    event_time: a.event_time ?? null, record_timestamp: a.record_timestamp == null ? null : Number(a.record_timestamp),
    outcome_at: Number(a.outcome_at), properties_json: a.properties_json ?? null, backfill: a.backfill === true,
    source_notification_id: a.source_notification_id ?? null, received_at: a.received_at == null ? null : Number(a.received_at),
  };
}

export function outageToAvro(o: PipelineOutage): Record<string, unknown> {
  return { since: o.since, until: o.until, failed_writes: o.failed_writes, reporter: o.reporter };
}

export function outageFromAvro(a: any): PipelineOutage {
  return { since: Number(a.since), until: Number(a.until), failed_writes: Number(a.failed_writes), reporter: a.reporter };
}

export function reconcileReportToAvro(r: ReconcileReportRecord): Record<string, unknown> {
  return { ...r, rows: r.rows.map((x) => ({ ...x })) };
}

export function reconcileReportFromAvro(a: any): ReconcileReportRecord {
  return {
    trigger: a.trigger, since: Number(a.since), until: Number(a.until), reconciled_at: Number(a.reconciled_at), outcome: a.outcome === 'ok' ? 'ok' : 'failed',
    error: a.error ?? null, outage_key: a.outage_key ?? null, objects: Number(a.objects), truncated: Number(a.truncated),
    unidentifiable_contacts: Number(a.unidentifiable_contacts), reporter: a.reporter,
    rows: (a.rows ?? []).map((x: any) => ({
      name: x.name, expected: Number(x.expected), present: Number(x.present), healed_pending: Number(x.healed_pending), missing: Number(x.missing), healed: Number(x.healed),
    })),
  };
}
