import { entityKey, parseWebhookText, type IntercomPing, type RawNotification } from '@iks/domain';

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
 * The body is decoded from UTF-8 once: that string is both what JSON.parse reads and the
 * record's `body` (Intercom's bytes as sent). Synchronous on purpose: the parsed tree is
 * referenced from nowhere once this returns, so it is garbage before the wait for Kafka's ack
 * (an async caller keeps every local of its frame alive across an await, and a scavenge copies
 * what is alive; the tree of a 5 KB body is several times its size).
 */
export function readWebhook(raw: Buffer, receivedAt: number): WebhookRecord {
  const text = raw.toString('utf8');
  const parsed = parseWebhookText(text);
  if (!parsed.ok) return parsed;
  // the ping is checked before the envelope's rules: Intercom sends it with id null (issue #19)
  if (parsed.kind === 'ping') return parsed;
  const env = parsed.envelope;
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
