import {
  DEFAULT_CONNECTION_ID,
  type ContactSnapshot,
  type DeadLetter,
  type DeliveryOutcome,
  type DeliveryOutcomeKind,
  type KlaviyoDeletionRecord,
  type KlaviyoEventRecord,
  type KlaviyoProfileRecord,
  type NotificationSource,
  type PipelineOutage,
  type RawNotification,
  type ReconcileReportRecord,
} from '@iks/domain';

/**
 * Domain records <-> their Avro form (schemas/*.avsc). Free-form JSON travels as a JSON
 * string field (`*_json`); optional values as Avro nulls. Each `*Avro` interface is the shape
 * of one schema's records as avsc reads them (longs as numbers, nullable unions unwrapped):
 * `AvroCodec.decodeAs` reads a record against its topic's schema before a `*FromAvro` sees it.
 */

const n = <T>(v: T | undefined | null): T | null => (v === undefined ? null : v);
/** Written always; read back only when it is not the default, so a default-connection record decodes as before. */
const cid = (v: string | undefined): string => v ?? DEFAULT_CONNECTION_ID;
const withConnection = <T extends object>(record: T, connectionId: string | undefined): T =>
  connectionId === undefined || connectionId === DEFAULT_CONNECTION_ID
    ? record
    : { ...record, connection_id: connectionId };

/** The sealed personal field (docs/ERASURE.md), present only when the record has one (older records read as before). */
const sealed = (v: Buffer | null | undefined): { personal?: Buffer } =>
  v === null || v === undefined ? {} : { personal: Buffer.from(v) };

const u = <T>(v: T | null | undefined): T | undefined => (v === null || v === undefined ? undefined : v);

/** schemas/klaviyo-event.avsc */
export interface EventAvro {
  readonly metric: string;
  readonly unique_id: string;
  readonly time: string;
  readonly email: string | null;
  readonly phone_number: string | null;
  readonly properties_json: string;
  readonly backfill: boolean;
  readonly intercom_contact_id: string | null;
  readonly source_notification_id: string;
  readonly source_topic: string;

  readonly connection_id: string;
  readonly personal: Buffer | null;
}

/** schemas/klaviyo-profile.avsc */
export interface ProfileAvro {
  readonly intercom_contact_id: string;
  readonly email: string | null;
  readonly phone_number: string | null;
  readonly first_name: string | null;
  readonly last_name: string | null;
  readonly image: string | null;
  readonly location_city: string | null;
  readonly location_country: string | null;
  readonly location_region: string | null;
  readonly properties_json: string;
  readonly updated_at: number | null;
  readonly backfill: boolean;
  readonly source_notification_id: string;

  readonly connection_id: string;
  readonly personal: Buffer | null;
}

/** schemas/klaviyo-deletion.avsc */
export interface DeletionAvro {
  readonly intercom_contact_id: string;
  readonly email: string | null;
  readonly phone_number: string | null;
  readonly requested_at: number;
  readonly source_notification_id: string;

  readonly connection_id: string;
  readonly personal: Buffer | null;
}

/** schemas/intercom-notification.avsc */
export interface NotificationAvro {
  readonly notification_id: string;
  readonly topic: string;
  readonly app_id: string;
  readonly created_at: number;
  readonly delivery_attempts: number;
  readonly first_sent_at: number | null;
  readonly received_at: number;
  readonly source: NotificationSource;
  readonly body: string;

  readonly connection_id: string;
  readonly body_sealed: Buffer | null;
}

/** schemas/contact-snapshot.avsc */
export interface ContactAvro {
  readonly id: string;
  readonly deleted: boolean;
  readonly contact_json: string | null;
  readonly recorded_at: number;

  readonly connection_id: string;
  readonly personal: Buffer | null;
}

/** schemas/dead-letter.avsc */
export interface DeadLetterAvro {
  readonly original_topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: string }>;
  readonly stage: string;
  readonly error_class: string;
  readonly error_message: string;
  readonly error_code: string | null;
  readonly retriable: boolean;
  readonly attempts: number;
  readonly first_failure_at: number;
  readonly last_failure_at: number;
}

/** schemas/delivery-outcome.avsc */
export interface OutcomeAvro {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly stage: string;
  readonly kind: string;
  readonly reason: string;
  readonly error_code: string | null;
  readonly record_kind: string | null;
  readonly metric: string | null;
  readonly unique_id: string | null;
  readonly intercom_contact_id: string | null;
  readonly email: string | null;
  readonly phone_number: string | null;
  readonly event_time: string | null;
  readonly record_timestamp: number | null;
  readonly outcome_at: number;
  readonly properties_json: string | null;
  readonly backfill: boolean;
  readonly source_notification_id: string | null;
  readonly received_at: number | null;

  readonly connection_id: string;
  readonly personal: Buffer | null;
}

/** schemas/pipeline-outage.avsc */
export interface OutageAvro {
  readonly since: number;
  readonly until: number;
  readonly failed_writes: number;
  readonly reporter: string;
}

/** schemas/reconcile-report.avsc */
export interface ReconcileReportAvro {
  readonly connection_id?: string;
  readonly trigger: string;
  readonly since: number;
  readonly until: number;
  readonly reconciled_at: number;
  readonly outcome: string;
  readonly error: string | null;
  readonly outage_key: string | null;
  readonly objects: number;
  readonly truncated: number;
  readonly unidentifiable_contacts: number;
  readonly reporter: string;
  readonly rows: ReadonlyArray<{
    readonly name: string;
    readonly expected: number;
    readonly present: number;
    readonly healed_pending: number;
    readonly missing: number;
    readonly healed: number;
  }>;
}

const OUTCOME_KINDS: ReadonlySet<string> = new Set<DeliveryOutcomeKind>([
  'delivered',
  'retried',
  'dead_lettered',
  'skipped',
  'pending',
]);
const RECORD_KINDS: ReadonlySet<string> = new Set(['event', 'profile', 'deletion']);

/** A JSON object field (`*_json`): anything else is not what the topic holds. */
function jsonObject(text: string, field: string): Record<string, unknown> {
  const v: unknown = JSON.parse(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${field} is not a JSON object`);
  return v as Record<string, unknown>;
}

export function eventToAvro(e: KlaviyoEventRecord): EventAvro {
  return {
    metric: e.metric,
    unique_id: e.unique_id,
    time: e.time,
    email: n(e.profile.email),
    phone_number: n(e.profile.phone_number),
    properties_json: JSON.stringify(e.properties),
    backfill: e.backfill,
    intercom_contact_id: n(e.intercom_contact_id),
    source_notification_id: e.source_notification_id,
    source_topic: e.source_topic,
    connection_id: cid(e.connection_id),
    personal: e.personal ?? null,
  };
}

export function eventFromAvro(a: EventAvro): KlaviyoEventRecord {
  const profile: { email?: string; phone_number?: string } = {};
  if (a.email != null) profile.email = a.email;
  if (a.phone_number != null) profile.phone_number = a.phone_number;
  const e: KlaviyoEventRecord = {
    kind: 'event',
    metric: a.metric,
    unique_id: a.unique_id,
    time: a.time,
    profile,
    properties: jsonObject(a.properties_json, 'properties_json'),
    backfill: a.backfill,
    intercom_contact_id: a.intercom_contact_id ?? null,
    source_notification_id: a.source_notification_id,
    source_topic: a.source_topic,
    ...sealed(a.personal),
  };
  return withConnection(e, a.connection_id);
}

export function profileToAvro(p: KlaviyoProfileRecord): ProfileAvro {
  return {
    intercom_contact_id: p.intercom_contact_id,
    email: n(p.email),
    phone_number: n(p.phone_number),
    first_name: n(p.first_name),
    last_name: n(p.last_name),
    image: n(p.image),
    location_city: n(p.location?.city),
    location_country: n(p.location?.country),
    location_region: n(p.location?.region),
    properties_json: JSON.stringify(p.properties),
    updated_at: n(p.updated_at),
    backfill: p.backfill,
    source_notification_id: p.source_notification_id,
    connection_id: cid(p.connection_id),
    personal: p.personal ?? null,
  };
}

export function profileFromAvro(a: ProfileAvro): KlaviyoProfileRecord {
  const location: { city?: string; country?: string; region?: string } = {};
  if (a.location_city != null) location.city = a.location_city;
  if (a.location_country != null) location.country = a.location_country;
  if (a.location_region != null) location.region = a.location_region;
  const p: { -readonly [F in keyof KlaviyoProfileRecord]: KlaviyoProfileRecord[F] } = {
    kind: 'profile',
    intercom_contact_id: a.intercom_contact_id,
    properties: jsonObject(a.properties_json, 'properties_json'),
    updated_at: a.updated_at ?? null,
    backfill: a.backfill,
    source_notification_id: a.source_notification_id,
    ...sealed(a.personal),
  };
  for (const k of ['email', 'phone_number', 'first_name', 'last_name', 'image'] as const) {
    const v = a[k];
    if (v != null) p[k] = v;
  }
  if (Object.keys(location).length > 0) p.location = location;
  return withConnection(p, a.connection_id);
}

export function deletionToAvro(d: KlaviyoDeletionRecord): DeletionAvro {
  return {
    intercom_contact_id: d.intercom_contact_id,
    email: n(d.email),
    phone_number: n(d.phone_number),
    requested_at: d.requested_at,
    source_notification_id: d.source_notification_id,
    connection_id: cid(d.connection_id),
    personal: d.personal ?? null,
  };
}

export function deletionFromAvro(a: DeletionAvro): KlaviyoDeletionRecord {
  const d: KlaviyoDeletionRecord = {
    kind: 'deletion',
    intercom_contact_id: a.intercom_contact_id,
    email: u(a.email),
    phone_number: u(a.phone_number),
    requested_at: Number(a.requested_at),
    source_notification_id: a.source_notification_id,
    ...sealed(a.personal),
  };
  return withConnection(d, a.connection_id);
}

/** A sealed record is written sealed: its clear body (of a reader that opened it) never reaches the topic. */
export function notificationToAvro(r: RawNotification): NotificationAvro {
  const sealed = r.body_sealed ?? null;
  return { ...r, body: sealed ? '' : r.body, connection_id: cid(r.connection_id), body_sealed: sealed };
}

export function notificationFromAvro(a: NotificationAvro): RawNotification {
  const r: RawNotification = {
    notification_id: a.notification_id,
    topic: a.topic,
    app_id: a.app_id,
    created_at: Number(a.created_at),
    delivery_attempts: a.delivery_attempts,
    first_sent_at: a.first_sent_at == null ? null : Number(a.first_sent_at),
    received_at: Number(a.received_at),
    source: a.source,
    body: a.body,
    ...(a.body_sealed ? { body_sealed: a.body_sealed } : {}),
  };
  return withConnection(r, a.connection_id);
}

export function contactToAvro(c: ContactSnapshot): ContactAvro {
  return { ...c, connection_id: cid(c.connection_id), personal: c.personal ?? null };
}

export function contactFromAvro(a: ContactAvro): ContactSnapshot {
  const c: ContactSnapshot = {
    id: a.id,
    deleted: a.deleted,
    contact_json: a.contact_json ?? null,
    recorded_at: Number(a.recorded_at),
    ...sealed(a.personal),
  };
  return withConnection(c, a.connection_id);
}

export function deadLetterToAvro(d: DeadLetter): DeadLetterAvro {
  return { ...d, headers: [...d.headers] };
}

export function deadLetterFromAvro(a: DeadLetterAvro): DeadLetter {
  return {
    original_topic: a.original_topic,
    partition: a.partition,
    offset: a.offset,
    key: a.key ?? null,
    value: a.value ?? null,
    headers: a.headers ?? [],
    stage: a.stage,
    error_class: a.error_class,
    error_message: a.error_message,
    error_code: a.error_code ?? null,
    retriable: a.retriable,
    attempts: a.attempts,
    first_failure_at: Number(a.first_failure_at),
    last_failure_at: Number(a.last_failure_at),
  };
}

export function outcomeToAvro(o: DeliveryOutcome): OutcomeAvro {
  return { ...o, connection_id: cid(o.connection_id), personal: o.personal ?? null };
}

export function outcomeFromAvro(a: OutcomeAvro): DeliveryOutcome {
  const o: DeliveryOutcome = {
    topic: a.topic,
    partition: a.partition,
    offset: a.offset,
    stage: a.stage,
    kind: oneOf<DeliveryOutcomeKind>(a.kind, OUTCOME_KINDS, 'kind'),
    reason: a.reason,
    error_code: a.error_code ?? null,
    record_kind:
      a.record_kind == null
        ? null
        : oneOf<'event' | 'profile' | 'deletion'>(a.record_kind, RECORD_KINDS, 'record_kind'),
    metric: a.metric ?? null,
    unique_id: a.unique_id ?? null,
    intercom_contact_id: a.intercom_contact_id ?? null,
    email: a.email ?? null,
    phone_number: a.phone_number ?? null,
    event_time: a.event_time ?? null,
    record_timestamp: a.record_timestamp == null ? null : Number(a.record_timestamp),
    outcome_at: Number(a.outcome_at),
    properties_json: a.properties_json ?? null,
    backfill: a.backfill === true,
    source_notification_id: a.source_notification_id ?? null,
    received_at: a.received_at == null ? null : Number(a.received_at),
    ...sealed(a.personal),
  };
  return withConnection(o, a.connection_id);
}

export function outageToAvro(o: PipelineOutage): OutageAvro {
  return { since: o.since, until: o.until, failed_writes: o.failed_writes, reporter: o.reporter };
}

export function outageFromAvro(a: OutageAvro): PipelineOutage {
  return {
    since: Number(a.since),
    until: Number(a.until),
    failed_writes: Number(a.failed_writes),
    reporter: a.reporter,
  };
}

export function reconcileReportToAvro(r: ReconcileReportRecord): ReconcileReportAvro {
  return { ...r, connection_id: cid(r.connection_id), rows: r.rows.map((x) => ({ ...x })) };
}

export function reconcileReportFromAvro(a: ReconcileReportAvro): ReconcileReportRecord {
  return withConnection(reconcileReportFields(a), a.connection_id);
}

function reconcileReportFields(a: ReconcileReportAvro): ReconcileReportRecord {
  return {
    trigger: a.trigger,
    since: Number(a.since),
    until: Number(a.until),
    reconciled_at: Number(a.reconciled_at),
    outcome: a.outcome === 'ok' ? 'ok' : 'failed',
    error: a.error ?? null,
    outage_key: a.outage_key ?? null,
    objects: Number(a.objects),
    truncated: Number(a.truncated),
    unidentifiable_contacts: Number(a.unidentifiable_contacts),
    reporter: a.reporter,
    rows: (a.rows ?? []).map((x) => ({
      name: x.name,
      expected: Number(x.expected),
      present: Number(x.present),
      healed_pending: Number(x.healed_pending),
      missing: Number(x.missing),
      healed: Number(x.healed),
    })),
  };
}

/** A string field that must be one of a few values (Avro holds it as a plain string). */
function oneOf<T extends string>(value: string, allowed: ReadonlySet<string>, field: string): T {
  if (!allowed.has(value))
    throw new TypeError(`${field} ${JSON.stringify(value.slice(0, 40))} is not one of ${[...allowed].join(', ')}`);
  return value as T;
}

/**
 * A secret of a connection as it travels and rests (schemas/connection.avsc SealedValue):
 * AES-256-GCM under the key `keyId` of CONNECTION_SECRET_KEYS (libs/connections seals and unseals).
 */
export interface SealedValue {
  readonly keyId: string;
  /** 12 bytes, fresh for every value. */
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  /** 16 bytes. */
  readonly tag: Buffer;
}

/** One record of pipeline.connections.v1: a connection at one revision, its secrets sealed (libs/connections reads it into a Connection). */
export interface ConnectionRecord {
  readonly id: string;
  readonly name: string;
  readonly status: 'active' | 'paused' | 'needs_reauth' | 'removed';
  readonly revision: number;
  readonly updatedAt: number;
  readonly intercom: {
    readonly appId: string;
    readonly region: 'US' | 'EU' | 'AU';
    readonly apiBaseUrl: string;
    readonly auth: 'token' | 'oauth';
    readonly clientSecret: SealedValue | null;
    readonly accessToken: SealedValue | null;
  };
  readonly klaviyo: {
    readonly accountId: string | null;
    readonly apiBaseUrl: string;
    readonly auth: 'private_key' | 'oauth';
    readonly privateKey: SealedValue | null;
    readonly oauth: {
      readonly clientId: string;
      readonly accessToken: SealedValue;
      readonly refreshToken: SealedValue;
      readonly expiresAt: number;
      readonly scopes: readonly string[];
    } | null;
  };
  readonly settings: {
    /** By the mapping's metric key (libs/connections checks the keys). */
    readonly metricNames: Readonly<Record<string, string>>;
    readonly defaultPhoneRegion: string | null;
    readonly deleteOnArchive: boolean;
  };
}

/** schemas/connection.avsc SealedValue */
export interface SealedValueAvro {
  readonly key_id: string;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/** schemas/connection.avsc */
export interface ConnectionAvro {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly revision: number;
  readonly updated_at: number;
  readonly intercom: {
    readonly app_id: string;
    readonly region: string;
    readonly api_base_url: string;
    readonly auth: string;
    readonly client_secret: SealedValueAvro | null;
    readonly access_token: SealedValueAvro | null;
  };
  readonly klaviyo: {
    readonly account_id: string | null;
    readonly api_base_url: string;
    readonly auth: string;
    readonly private_key: SealedValueAvro | null;
    readonly oauth: {
      readonly client_id: string;
      readonly access_token: SealedValueAvro;
      readonly refresh_token: SealedValueAvro;
      readonly expires_at: number;
      readonly scopes: readonly string[];
    } | null;
  };
  readonly settings: {
    readonly metric_names: Readonly<Record<string, string>>;
    readonly default_phone_region: string | null;
    readonly delete_on_archive: boolean;
  };
}

const sealedToAvro = (s: SealedValue): SealedValueAvro => ({
  key_id: s.keyId,
  iv: s.iv,
  ciphertext: s.ciphertext,
  tag: s.tag,
});
const sealedFromAvro = (a: SealedValueAvro): SealedValue => ({
  keyId: a.key_id,
  iv: Buffer.from(a.iv),
  ciphertext: Buffer.from(a.ciphertext),
  tag: Buffer.from(a.tag),
});
const sealedOrNull = (a: SealedValueAvro | null | undefined): SealedValue | null => (a ? sealedFromAvro(a) : null);

const CONNECTION_STATUSES: ReadonlySet<string> = new Set(['active', 'paused', 'needs_reauth', 'removed']);
const INTERCOM_REGIONS: ReadonlySet<string> = new Set(['US', 'EU', 'AU']);

export function connectionToAvro(c: ConnectionRecord): ConnectionAvro {
  const k = c.klaviyo;
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    revision: c.revision,
    updated_at: c.updatedAt,
    intercom: {
      app_id: c.intercom.appId,
      region: c.intercom.region,
      api_base_url: c.intercom.apiBaseUrl,
      auth: c.intercom.auth,
      client_secret: c.intercom.clientSecret ? sealedToAvro(c.intercom.clientSecret) : null,
      access_token: c.intercom.accessToken ? sealedToAvro(c.intercom.accessToken) : null,
    },
    klaviyo: {
      account_id: k.accountId,
      api_base_url: k.apiBaseUrl,
      auth: k.auth,
      private_key: k.privateKey ? sealedToAvro(k.privateKey) : null,
      oauth: k.oauth
        ? {
            client_id: k.oauth.clientId,
            access_token: sealedToAvro(k.oauth.accessToken),
            refresh_token: sealedToAvro(k.oauth.refreshToken),
            expires_at: k.oauth.expiresAt,
            scopes: [...k.oauth.scopes],
          }
        : null,
    },
    settings: {
      metric_names: { ...c.settings.metricNames },
      default_phone_region: c.settings.defaultPhoneRegion,
      delete_on_archive: c.settings.deleteOnArchive,
    },
  };
}

export function connectionFromAvro(a: ConnectionAvro): ConnectionRecord {
  const o = a.klaviyo.oauth;
  return {
    id: a.id,
    name: a.name,
    status: oneOf<ConnectionRecord['status']>(a.status, CONNECTION_STATUSES, 'status'),
    revision: Number(a.revision),
    updatedAt: Number(a.updated_at),
    intercom: {
      appId: a.intercom.app_id,
      region: oneOf<ConnectionRecord['intercom']['region']>(a.intercom.region, INTERCOM_REGIONS, 'intercom.region'),
      apiBaseUrl: a.intercom.api_base_url,
      auth: oneOf<'token' | 'oauth'>(a.intercom.auth, new Set(['token', 'oauth']), 'intercom.auth'),
      clientSecret: sealedOrNull(a.intercom.client_secret),
      accessToken: sealedOrNull(a.intercom.access_token),
    },
    klaviyo: {
      accountId: a.klaviyo.account_id ?? null,
      apiBaseUrl: a.klaviyo.api_base_url,
      auth: oneOf<'private_key' | 'oauth'>(a.klaviyo.auth, new Set(['private_key', 'oauth']), 'klaviyo.auth'),
      privateKey: sealedOrNull(a.klaviyo.private_key),
      oauth: o
        ? {
            clientId: o.client_id,
            accessToken: sealedFromAvro(o.access_token),
            refreshToken: sealedFromAvro(o.refresh_token),
            expiresAt: Number(o.expires_at),
            scopes: [...(o.scopes ?? [])],
          }
        : null,
    },
    settings: {
      metricNames: { ...(a.settings.metric_names ?? {}) },
      defaultPhoneRegion: a.settings.default_phone_region ?? null,
      deleteOnArchive: a.settings.delete_on_archive === true,
    },
  };
}

/** A subject's data key, or the marker that the subject is erased (schemas/subject-key.avsc, docs/ERASURE.md). */
export interface SubjectKeyRecord {
  readonly connectionId: string;
  readonly contactId: string;
  readonly kind: 'key' | 'erased';
  /** kind key: the key's id. */
  readonly keyId: string | null;
  /** kind key: the 32-byte key, sealed under the key ring. */
  readonly sealedKey: SealedValue | null;
  /** kind key, a deployment without a key ring (no CONNECTION_SECRET_KEYS): the key unsealed. */
  readonly plainKey: Buffer | null;
  /** unix milliseconds */
  readonly at: number;
}

export interface SubjectKeyAvro {
  readonly connection_id: string;
  readonly contact_id: string;
  readonly kind: string;
  readonly key_id: string | null;
  readonly sealed_key: SealedValueAvro | null;
  readonly plain_key: Buffer | null;
  readonly at: number;
}

export function subjectKeyToAvro(r: SubjectKeyRecord): SubjectKeyAvro {
  return {
    connection_id: r.connectionId,
    contact_id: r.contactId,
    kind: r.kind,
    key_id: r.keyId,
    sealed_key: r.sealedKey ? sealedToAvro(r.sealedKey) : null,
    plain_key: r.plainKey,
    at: r.at,
  };
}

export function subjectKeyFromAvro(a: SubjectKeyAvro): SubjectKeyRecord {
  return {
    connectionId: a.connection_id,
    contactId: a.contact_id,
    kind: oneOf<SubjectKeyRecord['kind']>(a.kind, new Set(['key', 'erased']), 'kind'),
    keyId: a.key_id ?? null,
    sealedKey: sealedOrNull(a.sealed_key),
    plainKey: a.plain_key ? Buffer.from(a.plain_key) : null,
    at: Number(a.at),
  };
}
