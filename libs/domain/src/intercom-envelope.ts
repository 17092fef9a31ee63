import { createHash } from 'node:crypto';

/**
 * The Intercom webhook envelope (developers.intercom.com, "Webhooks: notification object"):
 * { type: "notification_event", id: "notif_…", topic, app_id, created_at, delivery_attempts,
 *   first_sent_at, data: { type: "notification_event_data", item: {…} } }
 */
export interface IntercomEnvelope {
  readonly type: 'notification_event';
  readonly id: string;
  readonly topic: string;
  readonly app_id: string;
  readonly created_at: number;
  readonly delivery_attempts?: number;
  readonly first_sent_at?: number | null;
  readonly data: { readonly item: Record<string, unknown> };
}

export type EnvelopeResult =
  { readonly ok: true; readonly envelope: IntercomEnvelope } | { readonly ok: false; readonly error: string };

export function parseEnvelope(raw: Buffer): EnvelopeResult {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return { ok: false, error: `body is not valid JSON: ${(e as Error).message}` };
  }
  return validateEnvelope(body);
}

/**
 * schemas/intercom-notification.avsc: created_at and first_sent_at are Avro `long` (avsc holds
 * them as safe JS integers; ingest truncates fractions), delivery_attempts an Avro `int`
 * (32-bit signed). A value outside is the sender's error (400), not a failure to store.
 */
const AVRO_INT_MAX = 2 ** 31 - 1;
const isAvroInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= AVRO_INT_MAX;
const isAvroLongTimestamp = (v: unknown): boolean =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && Math.trunc(v) <= Number.MAX_SAFE_INTEGER;

export function validateEnvelope(body: unknown): EnvelopeResult {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return { ok: false, error: 'body must be a JSON object' };
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  if (b.type !== 'notification_event')
    problems.push(`type must be "notification_event" (got ${JSON.stringify(b.type)})`);
  if (typeof b.id !== 'string' || b.id === '') problems.push('id is missing');
  if (typeof b.topic !== 'string' || b.topic === '') problems.push('topic is missing');
  if (typeof b.app_id !== 'string' || b.app_id === '') problems.push('app_id is missing');
  if (typeof b.created_at !== 'number' || !Number.isFinite(b.created_at))
    problems.push('created_at must be a unix timestamp');
  else if (!isAvroLongTimestamp(b.created_at))
    problems.push(`created_at must be a unix timestamp between 0 and ${Number.MAX_SAFE_INTEGER} (got ${b.created_at})`);
  if (b.delivery_attempts != null && !isAvroInt(b.delivery_attempts)) {
    problems.push(
      `delivery_attempts must be an integer between 0 and ${AVRO_INT_MAX} (got ${JSON.stringify(b.delivery_attempts)})`,
    );
  }
  if (b.first_sent_at != null && !isAvroLongTimestamp(b.first_sent_at)) {
    problems.push(
      `first_sent_at must be null or a unix timestamp between 0 and ${Number.MAX_SAFE_INTEGER} (got ${JSON.stringify(b.first_sent_at)})`,
    );
  }
  const item = b.data && typeof b.data === 'object' ? (b.data as { item?: unknown }).item : undefined;
  if (!b.data || typeof b.data !== 'object') problems.push('data is missing');
  else if (!item || typeof item !== 'object' || Array.isArray(item)) problems.push('data.item is missing');
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  return { ok: true, envelope: b as unknown as IntercomEnvelope };
}

/**
 * Longest Kafka key written as is. Intercom ids are short; a longer key comes from a body's
 * strings (a signed webhook may carry a 200,000-character item type) and kafkajs takes time
 * quadratic in the key's length to produce it (seconds at 200 KB, blocking ingest's event loop).
 */
export const MAX_KEY_CHARS = 256;

/**
 * The Kafka key: every notification of one conversation, ticket or contact lands on one
 * partition, so they are read in order. Contact tag topics carry a contact_tag item whose
 * contact is the entity; anything else is keyed by its item id. A key longer than MAX_KEY_CHARS
 * is replaced by its SHA-256 (same entity, same key, same partition).
 */
export function entityKey(envelope: Pick<IntercomEnvelope, 'topic' | 'data' | 'id'>): string {
  return boundedKey(rawEntityKey(envelope));
}

/** A Kafka key as is up to MAX_KEY_CHARS, else its SHA-256 (the same input gives the same key, so the same partition). */
export function boundedKey(key: string): string {
  return key.length <= MAX_KEY_CHARS ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

function rawEntityKey(envelope: Pick<IntercomEnvelope, 'topic' | 'data' | 'id'>): string {
  const item = envelope.data.item as { type?: unknown; id?: unknown; contact?: unknown };
  const type = typeof item.type === 'string' ? item.type : envelope.topic.split('.')[0];
  const contactId =
    item.contact && typeof item.contact === 'object' ? idText((item.contact as { id?: unknown }).id) : null;
  if (envelope.topic.startsWith('contact.') && contactId !== null) return `contact:${contactId}`;
  const id = idText(item.id);
  if (id !== null) return `${type}:${id}`;
  return `notification:${envelope.id}`;
}

/** An id is a string or a number; anything else (an array nested 20,000 deep: String() overflows the stack) is no id. */
function idText(v: unknown): string | null {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : null;
}

/**
 * Intercom's ping: sent when a webhook subscription is saved in the Developer Hub and from time to
 * time after, topic "ping", item type "ping". It is not a notification of anything: Intercom sends
 * it with `id`, `delivery_status` and `self` null, e.g.
 * {"type":"notification_event","app_id":"ab12cd34","data":{"type":"notification_event_data",
 *  "item":{"type":"ping","message":"something something interzen"}},"links":{},"id":null,
 *  "topic":"ping","delivery_status":null,"delivery_attempts":1,"delivered_at":0,
 *  "first_sent_at":1449238939,"created_at":1449238939,"self":null}
 */
export interface IntercomPing {
  readonly type: 'notification_event';
  readonly topic: 'ping';
  readonly app_id?: unknown;
  readonly data?: { readonly item?: { readonly type?: unknown; readonly message?: unknown } };
}

/** A ping is a notification_event of topic "ping"; none of its other fields is looked at. */
export function isPing(body: unknown): body is IntercomPing {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  return b.type === 'notification_event' && b.topic === 'ping';
}

export type WebhookBody =
  | { readonly ok: true; readonly kind: 'ping'; readonly ping: IntercomPing }
  | { readonly ok: true; readonly kind: 'notification'; readonly envelope: IntercomEnvelope }
  | { readonly ok: false; readonly error: string };

/**
 * A webhook body: Intercom's ping (answered, never stored: its `id` may be null), or a
 * notification validated as validateEnvelope says, or why it is neither.
 */
export function parseWebhook(raw: Buffer): WebhookBody {
  return parseWebhookText(raw.toString('utf8'));
}

/** parseWebhook of a body already decoded from UTF-8 (ingest decodes once: the same string is the record's body). */
export function parseWebhookText(text: string): WebhookBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `body is not valid JSON: ${(e as Error).message}` };
  }
  if (isPing(body)) return { ok: true, kind: 'ping', ping: body };
  const r = validateEnvelope(body);
  return r.ok ? { ok: true, kind: 'notification', envelope: r.envelope } : r;
}
