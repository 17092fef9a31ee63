/**
 * The records that travel between the apps. Their Avro form is in schemas/*.avsc;
 * these are the decoded, typed shapes (see libs/kafka/src/topics.ts for which topic
 * carries which). Free-form JSON (event properties, profile properties, raw bodies)
 * travels as a JSON string in Avro and as a parsed object here.
 */

/**
 * The connection a record belongs to (docs/CONNECTIONS.md): one Intercom workspace paired with
 * one Klaviyo account. Absent means the default connection, the one today's environment
 * variables describe; in Avro the field is always written, with "default" as its default, so
 * records written before connections existed read as the default connection.
 */
export const DEFAULT_CONNECTION_ID = 'default';

/** Connection ids: lower-case letters, digits and dashes, 1–63 characters, starting with a letter or digit. */
export const CONNECTION_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * A record's Kafka key under its connection (docs/CONNECTIONS.md, "Keys"): the default
 * connection keeps today's key; another connection's key is `<connection id>/<today's key>`, so
 * one entity's records stay on one partition and two workspaces' ids never share a key (the
 * compacted contacts topic). Connection ids have no `/` (CONNECTION_ID_PATTERN).
 */
export function connectionKey(connectionId: string | undefined, key: string): string {
  return connectionId === undefined || connectionId === DEFAULT_CONNECTION_ID ? key : `${connectionId}/${key}`;
}

/**
 * `record` tagged with its connection: `connection_id` set for any connection but the default,
 * left absent for the default (absent means default, as the topics' decoders give it back).
 */
export function withConnectionId<T extends { readonly connection_id?: string }>(record: T, connectionId: string): T {
  if (connectionId === DEFAULT_CONNECTION_ID) {
    if (record.connection_id === undefined) return record;
    const { connection_id: _dropped, ...rest } = record;
    return rest as T;
  }
  return record.connection_id === connectionId ? record : { ...record, connection_id: connectionId };
}

/**
 * The connection of a record from its Kafka key alone (a record that cannot be decoded): a
 * connection's keys are `<connection id>/<key>`, the default connection's keys have no such
 * prefix (they start with an entity type and `:`).
 */
export function connectionOfKey(key: string | Buffer | null | undefined): string {
  const k = key === null || key === undefined ? '' : key.toString();
  const slash = k.indexOf('/');
  if (slash <= 0) return DEFAULT_CONNECTION_ID;
  const prefix = k.slice(0, slash);
  return CONNECTION_ID_PATTERN.test(prefix) ? prefix : DEFAULT_CONNECTION_ID;
}

/** The connection of a record: its `connection_id`, or the default connection when it has none. */
export function connectionOf(record: { readonly connection_id?: string }): string {
  return record.connection_id ?? DEFAULT_CONNECTION_ID;
}

/** `reconcile`: derived from Intercom's REST API to heal what the webhooks never delivered (issue #12). */
/** operator: an erasure request from `cli erase` (a contact.deleted that did not come from Intercom). */
export type NotificationSource = 'webhook' | 'backfill' | 'reconcile' | 'operator';

/** intercom.notifications.v1: one Intercom notification, as received (nothing lost). */
export interface RawNotification {
  readonly notification_id: string;
  readonly topic: string;
  readonly app_id: string;
  /** Intercom's created_at of the notification, unix seconds. */
  readonly created_at: number;
  readonly delivery_attempts: number;
  /** Intercom's first_sent_at, unix seconds, when given. */
  readonly first_sent_at: number | null;
  /** When the pipeline accepted it, unix milliseconds. */
  readonly received_at: number;
  readonly source: NotificationSource;
  /**
   * The body exactly as Intercom sent it (webhook) or as the backfill built it. Empty when the
   * record is sealed (`body_sealed`) and not opened; a reader that opened it (the transformer)
   * puts the clear body here and keeps `body_sealed`, so a copy it writes stays sealed.
   */
  readonly body: string;
  /**
   * The body sealed for the people it names (docs/ERASURE.md; libs/erasure `sealShared`). When
   * set, the record is written with this and an empty `body`, whatever `body` holds.
   */
  readonly body_sealed?: Buffer | null;

  /** The connection the record belongs to; absent: the default connection (DEFAULT_CONNECTION_ID). */
  readonly connection_id?: string;
}

/** The Klaviyo profile identifiers an event is attached to (email and/or E.164 phone). */
export interface ProfileIdentifiers {
  readonly email?: string;
  readonly phone_number?: string;
}

/** klaviyo.events.v1: one Klaviyo metric event, ready for the Events API. */
export interface KlaviyoEventRecord {
  readonly kind: 'event';
  readonly metric: string;
  readonly profile: ProfileIdentifiers;
  readonly properties: Record<string, unknown>;
  /** ISO 8601 UTC, YYYY-MM-DDTHH:MM:SSZ: when it happened in Intercom. */
  readonly time: string;
  readonly unique_id: string;
  /** Historical (backfilled) events are sent so that they trigger no flow. */
  readonly backfill: boolean;
  readonly intercom_contact_id: string | null;
  readonly source_notification_id: string;
  readonly source_topic: string;

  /**
   * The person's fields sealed under her subject key (libs/erasure personal-fields.ts,
   * docs/ERASURE.md): set on every record the transformer writes, whose clear personal fields
   * are then empty; absent in records written before sealing, and once opened.
   */
  readonly personal?: Buffer;

  /** The connection the record belongs to; absent: the default connection (DEFAULT_CONNECTION_ID). */
  readonly connection_id?: string;
}

export interface ProfileLocation {
  readonly city?: string;
  readonly country?: string;
  readonly region?: string;
}

/** klaviyo.profiles.v1: one Klaviyo profile upsert (Create or Update Profile attributes). */
export interface KlaviyoProfileRecord {
  readonly kind: 'profile';
  readonly intercom_contact_id: string;
  readonly email?: string;
  readonly phone_number?: string;
  readonly first_name?: string;
  readonly last_name?: string;
  readonly image?: string;
  readonly location?: ProfileLocation;
  readonly properties: Record<string, unknown>;
  /** The Intercom contact's updated_at (unix seconds), to order upserts. */
  readonly updated_at: number | null;
  readonly backfill: boolean;
  readonly source_notification_id: string;

  /**
   * The person's fields sealed under her subject key (libs/erasure personal-fields.ts,
   * docs/ERASURE.md): set on every record the transformer writes, whose clear personal fields
   * are then empty; absent in records written before sealing, and once opened.
   */
  readonly personal?: Buffer;

  /** The connection the record belongs to; absent: the default connection (DEFAULT_CONNECTION_ID). */
  readonly connection_id?: string;
}

/** klaviyo.deletions.v1: a data privacy deletion request for one person. */
export interface KlaviyoDeletionRecord {
  readonly kind: 'deletion';
  readonly intercom_contact_id: string;
  readonly email?: string;
  readonly phone_number?: string;
  /** unix milliseconds */
  readonly requested_at: number;
  readonly source_notification_id: string;

  /**
   * The person's fields sealed under her subject key (libs/erasure personal-fields.ts,
   * docs/ERASURE.md): set on every record the transformer writes, whose clear personal fields
   * are then empty; absent in records written before sealing, and once opened.
   */
  readonly personal?: Buffer;

  /** The connection the record belongs to; absent: the default connection (DEFAULT_CONNECTION_ID). */
  readonly connection_id?: string;
}

/**
 * pipeline.outages.v1 (compacted, keyed by `<reporter>:<since>`): a time when ingest could not
 * store webhooks (it answered 503), written when its producer works again. Webhooks Intercom gave
 * up on in that time exist only in Intercom: the reconciler reconciles the window, then writes a
 * tombstone for the key (README "Gaps").
 */
export interface PipelineOutage {
  /** unix milliseconds: the first failed write */
  readonly since: number;
  /** unix milliseconds: the first write acknowledged after it */
  readonly until: number;
  /** writes answered 503 in between */
  readonly failed_writes: number;
  /** who saw it, e.g. `ingest@<host>` */
  readonly reporter: string;
}

/**
 * pipeline.reconcile.v1 (keyed by `<trigger>:<since>`, `<connection id>/<trigger>:<since>` for a connection
 * other than the default): one window the reconciler compared with
 * Intercom and healed, or why it could not (README "Gaps"). The console's Gaps page reads it.
 */
export interface ReconcileReportRecord {
  readonly trigger: string;
  /** unix milliseconds, [since, until) */
  readonly since: number;
  readonly until: number;
  readonly reconciled_at: number;
  readonly outcome: 'ok' | 'failed';
  readonly error: string | null;
  readonly outage_key: string | null;
  readonly objects: number;
  readonly truncated: number;
  readonly unidentifiable_contacts: number;
  readonly rows: ReadonlyArray<{
    readonly name: string;
    readonly expected: number;
    readonly present: number;
    readonly healed_pending: number;
    readonly missing: number;
    readonly healed: number;
  }>;
  readonly reporter: string;

  /** The connection whose workspace was reconciled; absent: the default connection. */
  readonly connection_id?: string;
}

export type KlaviyoRecord = KlaviyoEventRecord | KlaviyoProfileRecord | KlaviyoDeletionRecord;

/** <topic>.dlq: a record a stage could not process, with its original bytes and the reason. */
export interface DeadLetter {
  readonly original_topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: string }>;
  /** ingest | transformer | sink */
  readonly stage: string;
  readonly error_class: string;
  readonly error_message: string;
  readonly error_code: string | null;
  readonly retriable: boolean;
  readonly attempts: number;
  /** unix milliseconds */
  readonly first_failure_at: number;
  readonly last_failure_at: number;
}

/** intercom.contacts.v1 (compacted, keyed by Intercom contact id): the contact directory. */
export interface ContactSnapshot {
  readonly id: string;
  readonly deleted: boolean;
  /** The Intercom Contact object as JSON, or null for a deletion tombstone. */
  readonly contact_json: string | null;
  /** unix milliseconds */
  readonly recorded_at: number;

  /**
   * The person's fields sealed under her subject key (libs/erasure personal-fields.ts,
   * docs/ERASURE.md): set on every record the transformer writes, whose clear personal fields
   * are then empty; absent in records written before sealing, and once opened.
   */
  readonly personal?: Buffer;

  /** The connection the record belongs to; absent: the default connection (DEFAULT_CONNECTION_ID). */
  readonly connection_id?: string;
}

/** What happened to one record a stage consumed, as the console reads it. */
export type DeliveryOutcomeKind = 'delivered' | 'retried' | 'dead_lettered' | 'skipped' | 'pending';

/** klaviyo.outcomes.v1 (keyed by Intercom contact id): one record's outcome at the sink. */
export interface DeliveryOutcome {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly stage: string;
  readonly kind: DeliveryOutcomeKind;
  readonly reason: string;
  readonly error_code: string | null;
  readonly record_kind: 'event' | 'profile' | 'deletion' | null;
  readonly metric: string | null;
  readonly unique_id: string | null;
  readonly intercom_contact_id: string | null;
  readonly email: string | null;
  readonly phone_number: string | null;
  /** ISO 8601 UTC, when it happened in Intercom (events). */
  readonly event_time: string | null;
  /** unix ms: the consumed record's Kafka timestamp (when it was mapped). */
  readonly record_timestamp: number | null;
  /** unix ms */
  readonly outcome_at: number;
  /** Event properties (or profile attributes) as sent to Klaviyo, JSON. */
  readonly properties_json: string | null;
  readonly backfill: boolean;
  readonly source_notification_id: string | null;
  /** unix ms: when ingest accepted the Intercom notification the record came from (null when unknown). */
  readonly received_at: number | null;

  /**
   * The consumed record's sealed personal field, as is (its record_kind says its shape); email,
   * phone_number and properties_json are null then. Null/absent for a record written before
   * sealing or one that could not be decoded.
   */
  readonly personal?: Buffer | null;

  /** The connection the record belongs to; absent: the default connection (DEFAULT_CONNECTION_ID). */
  readonly connection_id?: string;
}
