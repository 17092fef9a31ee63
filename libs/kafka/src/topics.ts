/**
 * The one registry of topics, their Avro value schemas (schemas/*.avsc) and keys.
 * Subjects follow TopicNameStrategy (`<topic>-value`); compatibility is BACKWARD.
 */

import type {
  ContactSnapshot,
  DeadLetter,
  DeliveryOutcome,
  KlaviyoDeletionRecord,
  KlaviyoEventRecord,
  KlaviyoProfileRecord,
  PipelineOutage,
  RawNotification,
  ReconcileReportRecord,
} from '@iks/domain';
import {
  connectionFromAvro,
  connectionToAvro,
  contactFromAvro,
  contactToAvro,
  deadLetterFromAvro,
  deadLetterToAvro,
  deletionFromAvro,
  deletionToAvro,
  eventFromAvro,
  eventToAvro,
  notificationFromAvro,
  notificationToAvro,
  outageFromAvro,
  outageToAvro,
  outcomeFromAvro,
  outcomeToAvro,
  profileFromAvro,
  profileToAvro,
  subjectKeyFromAvro,
  subjectKeyToAvro,
  reconcileReportFromAvro,
  reconcileReportToAvro,
  type ConnectionAvro,
  type ConnectionRecord,
  type ContactAvro,
  type DeadLetterAvro,
  type DeletionAvro,
  type EventAvro,
  type NotificationAvro,
  type OutageAvro,
  type OutcomeAvro,
  type ProfileAvro,
  type ReconcileReportAvro,
  type SubjectKeyAvro,
  type SubjectKeyRecord,
} from './serdes';

/** The record type each topic holds: say it here once, and every encode, decode and handler is typed from it. */
export interface TopicRecords {
  readonly notifications: RawNotification;
  readonly notificationsRetry: RawNotification;
  readonly contacts: ContactSnapshot;
  readonly events: KlaviyoEventRecord;
  readonly profiles: KlaviyoProfileRecord;
  readonly deletions: KlaviyoDeletionRecord;
  readonly outcomes: DeliveryOutcome;
  readonly outages: PipelineOutage;
  readonly reconcileReports: ReconcileReportRecord;
  readonly connections: ConnectionRecord;
  readonly notificationsUnclaimed: RawNotification;
  /** klaviyo.parked.v1: a sink record waiting for its Klaviyo account, in the dead-letter envelope (original bytes and topic). */
  readonly parked: DeadLetter;
  /** pipeline.subject-keys.v1: people's data keys and erasure markers (docs/ERASURE.md). */
  readonly subjectKeys: SubjectKeyRecord;
  /** Every `<topic>.dlq`. */
  readonly dlq: DeadLetter;
}

/** The Avro shape of each topic's records (what avsc reads against the topic's schema). */
interface TopicAvro {
  readonly notifications: NotificationAvro;
  readonly notificationsRetry: NotificationAvro;
  readonly contacts: ContactAvro;
  readonly events: EventAvro;
  readonly profiles: ProfileAvro;
  readonly deletions: DeletionAvro;
  readonly outcomes: OutcomeAvro;
  readonly outages: OutageAvro;
  readonly reconcileReports: ReconcileReportAvro;
  readonly connections: ConnectionAvro;
  readonly notificationsUnclaimed: NotificationAvro;
  readonly parked: DeadLetterAvro;
  readonly subjectKeys: SubjectKeyAvro;
  readonly dlq: DeadLetterAvro;
}

/** A kind of record with its own schema: the project's topics, and `dlq` for every dead-letter topic. */
export type RecordKey = keyof TopicRecords;
export type TopicKey = Exclude<RecordKey, 'dlq'>;

export interface TopicSpec<K extends RecordKey = RecordKey> {
  readonly key: K;
  /** Base name; the configured TOPIC_PREFIX is put in front (a dead-letter topic is `<topic>.dlq`). */
  readonly name: string;
  readonly schemaFile: string;
  readonly compacted: boolean;
  /** `retention.ms` the topic is created with; absent: the broker's default. */
  readonly retentionMs?: number;
  /** Further topic configs it is created with (the subject keys' aggressive compaction). */
  readonly configs?: Readonly<Record<string, string>>;
  readonly doc: string;
  readonly toAvro: (record: TopicRecords[K]) => TopicAvro[K];
  readonly fromAvro: (avro: TopicAvro[K]) => TopicRecords[K];
}

/** How long the unclaimed notifications are kept (30 days): the time to add and claim their connection. */
export const UNCLAIMED_RETENTION_MS = 30 * 24 * 3600 * 1000;

/** A concrete topic: its registry entry and its name with the configured prefix. */
export interface Topic<K extends RecordKey = RecordKey> {
  readonly key: K;
  readonly name: string;
}

/**
 * The subject keys' topic is compacted hard, so that a destroyed key (a tombstone) is gone from
 * the broker's disks within minutes, not when a segment of a week rolls: segments roll every
 * minute, the cleaner takes any dirty segment, and no record waits more than 2 minutes for it;
 * tombstones stay a day for slow followers (docs/ERASURE.md).
 */
export const SUBJECT_KEY_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'min.cleanable.dirty.ratio': '0.01',
  'segment.ms': '60000',
  'max.compaction.lag.ms': '120000',
  'delete.retention.ms': '86400000',
};

export const TOPICS: { readonly [K in TopicKey]: TopicSpec<K> } = {
  notifications: {
    key: 'notifications',
    toAvro: notificationToAvro,
    fromAvro: notificationFromAvro,
    name: 'intercom.notifications.v1',
    schemaFile: 'intercom-notification.avsc',
    compacted: false,
    doc: 'raw Intercom notifications (webhook and backfill), keyed by conversation/ticket/contact id',
  },
  notificationsRetry: {
    key: 'notificationsRetry',
    toAvro: notificationToAvro,
    fromAvro: notificationFromAvro,
    name: 'intercom.notifications.v1.retry',
    schemaFile: 'intercom-notification.avsc',
    compacted: false,
    doc: 'notifications waiting for their contact to become identifiable (transformer retry path)',
  },
  contacts: {
    key: 'contacts',
    toAvro: contactToAvro,
    fromAvro: contactFromAvro,
    name: 'intercom.contacts.v1',
    schemaFile: 'contact-snapshot.avsc',
    compacted: true,
    doc: "contact directory: latest Intercom contact per id (its JSON sealed under the contact's key, `personal`), or a deletion tombstone",
  },
  events: {
    key: 'events',
    toAvro: eventToAvro,
    fromAvro: eventFromAvro,
    name: 'klaviyo.events.v1',
    schemaFile: 'klaviyo-event.avsc',
    compacted: false,
    doc: "Klaviyo metric events, keyed by Intercom contact id; the person's fields sealed under her key (`personal`, docs/ERASURE.md)",
  },
  profiles: {
    key: 'profiles',
    toAvro: profileToAvro,
    fromAvro: profileFromAvro,
    name: 'klaviyo.profiles.v1',
    schemaFile: 'klaviyo-profile.avsc',
    compacted: false,
    doc: "Klaviyo profile upserts, keyed by Intercom contact id; the person's fields sealed under her key (`personal`)",
  },
  deletions: {
    key: 'deletions',
    toAvro: deletionToAvro,
    fromAvro: deletionFromAvro,
    name: 'klaviyo.deletions.v1',
    schemaFile: 'klaviyo-deletion.avsc',
    compacted: false,
    doc: 'Klaviyo data privacy deletion requests, keyed by Intercom contact id; her identifiers sealed under her key (`personal`)',
  },
  outcomes: {
    key: 'outcomes',
    toAvro: outcomeToAvro,
    fromAvro: outcomeFromAvro,
    name: 'klaviyo.outcomes.v1',
    schemaFile: 'delivery-outcome.avsc',
    compacted: false,
    doc: "what the sink did with each record (delivered, retried, dead-lettered, skipped), keyed by Intercom contact id, the record's sealed `personal` copied as is; the console reads it",
  },
  outages: {
    key: 'outages',
    toAvro: outageToAvro,
    fromAvro: outageFromAvro,
    name: 'pipeline.outages.v1',
    schemaFile: 'pipeline-outage.avsc',
    compacted: true,
    doc: 'times ingest answered 503 (Kafka unavailable), keyed by reporter and start; tombstoned once reconciled',
  },
  reconcileReports: {
    key: 'reconcileReports',
    toAvro: reconcileReportToAvro,
    fromAvro: reconcileReportFromAvro,
    name: 'pipeline.reconcile.v1',
    schemaFile: 'reconcile-report.avsc',
    compacted: false,
    doc: 'each window the reconciler compared with Intercom: per metric expected, present, missing, healed (or why it failed); the console reads it',
  },
  connections: {
    key: 'connections',
    toAvro: connectionToAvro,
    fromAvro: connectionFromAvro,
    name: 'pipeline.connections.v1',
    schemaFile: 'connection.avsc',
    compacted: true,
    doc: 'connections (an Intercom workspace -> a Klaviyo account), keyed by connection id, a record per revision, secrets sealed (docs/CONNECTIONS.md); every app follows it from the beginning',
  },
  notificationsUnclaimed: {
    key: 'notificationsUnclaimed',
    toAvro: notificationToAvro,
    fromAvro: notificationFromAvro,
    name: 'intercom.notifications.unclaimed.v1',
    schemaFile: 'intercom-notification.avsc',
    compacted: false,
    retentionMs: UNCLAIMED_RETENTION_MS,
    doc: 'signed webhooks of workspaces no connection claims, keyed by app_id; kept so that `cli connections claim` can copy them into the raw topic once their connection exists',
  },
  parked: {
    key: 'parked',
    toAvro: deadLetterToAvro,
    fromAvro: deadLetterFromAvro,
    name: 'klaviyo.parked.v1',
    schemaFile: 'dead-letter.avsc',
    compacted: false,
    doc: "sink records whose Klaviyo account is unavailable (circuit open, connection paused), keyed by connection id: the original topic, key, value and headers and why; the sink's parked consumer re-offers them (docs/CONNECTIONS.md)",
  },
  subjectKeys: {
    key: 'subjectKeys',
    toAvro: subjectKeyToAvro,
    fromAvro: subjectKeyFromAvro,
    name: 'pipeline.subject-keys.v1',
    schemaFile: 'subject-key.avsc',
    compacted: true,
    configs: SUBJECT_KEY_TOPIC_CONFIGS,
    doc: "people's data keys (sealed under CONNECTION_SECRET_KEYS; unsealed without it) and erasure markers, keyed '<connection>/<contact id>#<key id>' and '#erased'; a destroyed key is a tombstone, compacted away within minutes (docs/ERASURE.md)",
  },
};

export const DLQ_SCHEMA_FILE = 'dead-letter.avsc';

/** Every `<topic>.dlq` (one schema for all). */
export const DLQ: TopicSpec<'dlq'> = {
  key: 'dlq',
  name: '<topic>.dlq',
  schemaFile: DLQ_SCHEMA_FILE,
  compacted: false,
  toAvro: deadLetterToAvro,
  fromAvro: deadLetterFromAvro,
  doc: "records a stage could not process, with their original key, value and headers and the error (Kafka Connect's dead-letter contract)",
};

export function topicSpec<K extends RecordKey>(key: K): TopicSpec<K> {
  return (key === 'dlq' ? DLQ : TOPICS[key as TopicKey]) as unknown as TopicSpec<K>;
}

/** The topic `key` under the configured prefix. */
export function topic<K extends TopicKey>(key: K, prefix = ''): Topic<K> {
  return { key, name: topicName(key, prefix) };
}

/** The dead-letter topic of a (prefixed) topic. */
export function dlqTopic(of: string): Topic<'dlq'> {
  return { key: 'dlq', name: dlqName(of) };
}

/** Topics with a dead-letter topic: every topic a stage consumes. */
export const DLQ_SOURCES: readonly TopicKey[] = [
  'notifications',
  'notificationsRetry',
  'events',
  'profiles',
  'deletions',
  'parked',
];

export function topicName(key: TopicKey, prefix = ''): string {
  return `${prefix}${TOPICS[key].name}`;
}

export function dlqName(topic: string): string {
  return `${topic}.dlq`;
}

/** Every concrete topic (with prefix) and its schema file. */
/** A topic as ensureTopics creates it. */
export interface TopicToCreate {
  readonly name: string;
  readonly schemaFile: string;
  readonly compacted: boolean;
  readonly retentionMs?: number;
  readonly configs?: Readonly<Record<string, string>>;
}

export function allTopics(prefix = ''): TopicToCreate[] {
  const specs: ReadonlyArray<Pick<TopicSpec, 'name' | 'schemaFile' | 'compacted' | 'retentionMs' | 'configs'>> =
    Object.values(TOPICS);
  const out: TopicToCreate[] = specs.map((t) => ({
    name: prefix + t.name,
    schemaFile: t.schemaFile,
    compacted: t.compacted,
    ...(t.retentionMs === undefined ? {} : { retentionMs: t.retentionMs }),
    ...(t.configs === undefined ? {} : { configs: t.configs }),
  }));
  for (const k of DLQ_SOURCES)
    out.push({ name: dlqName(prefix + TOPICS[k].name), schemaFile: DLQ_SCHEMA_FILE, compacted: false });
  return out;
}
