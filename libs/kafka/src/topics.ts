/**
 * The one registry of topics, their Avro value schemas (schemas/*.avsc) and keys.
 * Subjects follow TopicNameStrategy (`<topic>-value`); compatibility is BACKWARD.
 */

export type TopicKey = 'notifications' | 'notificationsRetry' | 'contacts' | 'events' | 'profiles' | 'deletions' | 'outcomes' | 'outages' | 'reconcileReports';

export interface TopicSpec {
  readonly key: TopicKey | 'dlq';
  /** Base name; the configured TOPIC_PREFIX is put in front. */
  readonly name: string;
  readonly schemaFile: string;
  readonly compacted: boolean;
  readonly doc: string;
}

export const TOPICS: Readonly<Record<TopicKey, TopicSpec>> = {
  notifications: {
    key: 'notifications', name: 'intercom.notifications.v1', schemaFile: 'intercom-notification.avsc', compacted: false,
    doc: 'raw Intercom notifications (webhook and backfill), keyed by conversation/ticket/contact id',
  },
  notificationsRetry: {
    key: 'notificationsRetry', name: 'intercom.notifications.v1.retry', schemaFile: 'intercom-notification.avsc', compacted: false,
    doc: 'notifications waiting for their contact to become identifiable (transformer retry path)',
  },
  contacts: {
    key: 'contacts', name: 'intercom.contacts.v1', schemaFile: 'contact-snapshot.avsc', compacted: true,
    doc: 'contact directory: latest Intercom contact per id, or a deletion tombstone',
  },
  events: {
    key: 'events', name: 'klaviyo.events.v1', schemaFile: 'klaviyo-event.avsc', compacted: false,
    doc: 'Klaviyo metric events, keyed by Intercom contact id',
  },
  profiles: {
    key: 'profiles', name: 'klaviyo.profiles.v1', schemaFile: 'klaviyo-profile.avsc', compacted: false,
    doc: 'Klaviyo profile upserts, keyed by Intercom contact id',
  },
  deletions: {
    key: 'deletions', name: 'klaviyo.deletions.v1', schemaFile: 'klaviyo-deletion.avsc', compacted: false,
    doc: 'Klaviyo data privacy deletion requests, keyed by Intercom contact id',
  },
  outcomes: {
    key: 'outcomes', name: 'klaviyo.outcomes.v1', schemaFile: 'delivery-outcome.avsc', compacted: false,
    doc: 'what the sink did with each record (delivered, retried, dead-lettered, skipped), keyed by Intercom contact id; the console reads it',
  },
  outages: {
    key: 'outages', name: 'pipeline.outages.v1', schemaFile: 'pipeline-outage.avsc', compacted: true,
    doc: 'times ingest answered 503 (Kafka unavailable), keyed by reporter and start; tombstoned once reconciled',
  },
  reconcileReports: {
    key: 'reconcileReports', name: 'pipeline.reconcile.v1', schemaFile: 'reconcile-report.avsc', compacted: false,
    doc: 'each window the reconciler compared with Intercom: per metric expected, present, missing, healed (or why it failed); the console reads it',
  },
};

export const DLQ_SCHEMA_FILE = 'dead-letter.avsc';

/** Topics with a dead-letter topic: every topic a stage consumes. */
export const DLQ_SOURCES: readonly TopicKey[] = ['notifications', 'notificationsRetry', 'events', 'profiles', 'deletions'];

export function topicName(key: TopicKey, prefix = ''): string {
  return `${prefix}${TOPICS[key].name}`;
}

export function dlqName(topic: string): string {
  return `${topic}.dlq`;
}

/** Every concrete topic (with prefix) and its schema file. */
export function allTopics(prefix = ''): Array<{ name: string; schemaFile: string; compacted: boolean }> {
  const out = Object.values(TOPICS).map((t) => ({ name: prefix + t.name, schemaFile: t.schemaFile, compacted: t.compacted }));
  for (const k of DLQ_SOURCES) out.push({ name: dlqName(prefix + TOPICS[k].name), schemaFile: DLQ_SCHEMA_FILE, compacted: false });
  return out;
}
