import {
  entityKey,
  parseWebhookText,
  validateEnvelope,
  type IntercomEnvelope,
  type IntercomPing,
  type RawNotification,
} from '@iks/domain';
import { scanEnvelope, type ScannedEnvelope } from './envelope-scan';

/** A signed webhook body read once: a ping, a notification's record to store, or why it is neither (400). */
export type WebhookRecord =
  | { readonly ok: false; readonly error: string }
  | { readonly ok: true; readonly kind: 'ping'; readonly ping: IntercomPing }
  | {
      readonly ok: true;
      readonly kind: 'notification';
      readonly id: string;
      readonly topic: string;
      readonly key: string;
      readonly record: RawNotification;
    };

/**
 * The body is decoded from UTF-8 once: that string is the record's `body` (Intercom's bytes as
 * sent) and, on the slow path, what JSON.parse reads. The fast path (envelope-scan.ts) checks the
 * bytes are JSON and reads the envelope's fields without building the tree; a body it does not
 * answer for (not JSON, a ping, an unusual shape) is parsed and validated as before, which words
 * every 400. Synchronous on purpose: nothing read here is referenced once this returns, so it is
 * garbage before the wait for Kafka's ack (an async caller keeps every local of its frame alive
 * across an await, and a scavenge copies what is alive).
 */
export function readWebhook(raw: Buffer, receivedAt: number): WebhookRecord {
  const text = raw.toString('utf8');
  const scanned = scanEnvelope(raw);
  if (scanned !== null && !(scanned.type === 'notification_event' && scanned.topic === 'ping')) {
    const checked = validateEnvelope(skeleton(scanned));
    if (checked.ok) return notification(checked.envelope, text, receivedAt);
  }
  const parsed = parseWebhookText(text);
  if (!parsed.ok) return parsed;
  // the ping is checked before the envelope's rules: Intercom sends it with id null (issue #19)
  if (parsed.kind === 'ping') return parsed;
  return notification(parsed.envelope, text, receivedAt);
}

/** The envelope as JSON.parse would give it, as far as validateEnvelope and entityKey look. */
function skeleton(s: ScannedEnvelope): Record<string, unknown> {
  const item: Record<string, unknown> = {};
  if (s.itemType !== undefined) item.type = s.itemType;
  if (s.itemId !== undefined) item.id = s.itemId;
  if (s.contactIsObject) item.contact = s.contactId === undefined ? {} : { id: s.contactId };
  return {
    type: s.type,
    id: s.id,
    topic: s.topic,
    app_id: s.app_id,
    created_at: s.created_at,
    delivery_attempts: s.delivery_attempts,
    first_sent_at: s.first_sent_at,
    data: { item },
  };
}

function notification(env: IntercomEnvelope, text: string, receivedAt: number): WebhookRecord {
  return {
    ok: true,
    kind: 'notification',
    id: env.id,
    topic: env.topic,
    key: entityKey(env),
    record: {
      notification_id: env.id,
      topic: env.topic,
      app_id: env.app_id,
      created_at: Math.trunc(env.created_at),
      delivery_attempts: Number.isInteger(env.delivery_attempts) ? env.delivery_attempts! : 1,
      first_sent_at: typeof env.first_sent_at === 'number' ? Math.trunc(env.first_sent_at) : null,
      received_at: receivedAt,
      source: 'webhook',
      body: text,
    },
  };
}
