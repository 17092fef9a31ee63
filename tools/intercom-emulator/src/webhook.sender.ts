import { createHmac, randomUUID } from 'node:crypto';

/**
 * Intercom webhook notifications and their delivery.
 *
 * Envelope: developers.intercom.com/docs/references/webhooks/webhook-models (notification_event
 * with `data.item`, `id: notif_…`, `topic`, `delivery_attempts`, `first_sent_at`, …).
 * Signature: `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body, keyed with the app's client secret>`
 * ("Signed notifications" in the same page).
 * Delivery: Intercom treats a non-2xx answer or no answer within the timeout as a failure and
 * redelivers the same notification (same `id`, `delivery_attempts` + 1); see DEFAULT_DELIVERY.
 */

export interface IntercomNotification<Item = unknown> {
  type: 'notification_event';
  app_id: string;
  data: { type: 'notification_event_data'; item: Item };
  links: Record<string, never>;
  id: string;
  topic: string;
  delivery_status: 'pending';
  delivery_attempts: number;
  delivered_at: number;
  first_sent_at: number;
  created_at: number;
  self: string | null;
}

export interface NotificationOptions {
  appId?: string;
  /** default `notif_<uuid>` */
  id?: string;
  /** unix seconds; default now */
  createdAt?: number;
}

export function buildNotification<Item>(topic: string, item: Item, options: NotificationOptions = {}): IntercomNotification<Item> {
  const createdAt = options.createdAt ?? Math.floor(Date.now() / 1000);
  return {
    type: 'notification_event',
    app_id: options.appId ?? 'emu1a2b3',
    data: { type: 'notification_event_data', item },
    links: {},
    id: options.id ?? `notif_${randomUUID()}`,
    topic,
    delivery_status: 'pending',
    delivery_attempts: 1,
    delivered_at: 0,
    first_sent_at: createdAt,
    created_at: createdAt,
    self: null,
  };
}

/** `sha1=<hex>` of HMAC-SHA1(rawBody) keyed with the client secret, as sent in X-Hub-Signature. */
export function signBody(rawBody: string | Buffer, secret: string): string {
  return `sha1=${createHmac('sha1', secret).update(rawBody).digest('hex')}`;
}

export interface DeliveryPolicy {
  /** an answer slower than this is a failed delivery */
  timeoutMs: number;
  /** total attempts including the first, when retry is on */
  maxAttempts: number;
  /** wait between a failed attempt and the redelivery */
  retryDelayMs: number;
}

/**
 * The brief's description of Intercom's redelivery: 5 s timeout, one retry about a minute later.
 * The Intercom page found (developers.intercom.com/docs/webhooks/webhook-notifications) documents
 * the surrounding policy: a subscription is paused for 15 min after >1000 consecutive errors in
 * 15 min, suspended after 7 days of errors (private apps), and a 429 from the endpoint throttles
 * further notifications with a delay from 1 min up to 2 h. Every value is configurable.
 */
export const DEFAULT_DELIVERY: DeliveryPolicy = { timeoutMs: 5000, maxAttempts: 2, retryDelayMs: 60_000 };

export interface SendWebhookOptions extends Partial<DeliveryPolicy> {
  secret: string;
  /** default true: redeliver a failed notification like Intercom does */
  retry?: boolean;
  headers?: Record<string, string>;
}

export interface DeliveryAttempt {
  attempt: number;
  status?: number;
  error?: string;
  durationMs: number;
  rawBody: string;
  signature: string;
}

export interface DeliveryResult {
  delivered: boolean;
  attempts: DeliveryAttempt[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function sendWebhook(url: string, notification: IntercomNotification, options: SendWebhookOptions): Promise<DeliveryResult> {
  const policy: DeliveryPolicy = {
    timeoutMs: options.timeoutMs ?? DEFAULT_DELIVERY.timeoutMs,
    maxAttempts: options.retry === false ? 1 : (options.maxAttempts ?? DEFAULT_DELIVERY.maxAttempts),
    retryDelayMs: options.retryDelayMs ?? DEFAULT_DELIVERY.retryDelayMs,
  };
  const attempts: DeliveryAttempt[] = [];
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    if (attempt > 1) await sleep(policy.retryDelayMs);
    const sent: IntercomNotification = {
      ...notification,
      delivery_attempts: notification.delivery_attempts + attempt - 1,
    };
    const rawBody = JSON.stringify(sent);
    const signature = signBody(rawBody, options.secret);
    const started = Date.now();
    try {
      const res = await fetch(url, {
        method: 'POST',
        body: rawBody,
        headers: { 'Content-Type': 'application/json', 'X-Hub-Signature': signature, 'User-Agent': 'intercom-emulator-webhooks', ...options.headers },
        signal: AbortSignal.timeout(policy.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      attempts.push({ attempt, status: res.status, durationMs: Date.now() - started, rawBody, signature });
      if (res.status >= 200 && res.status < 300) return { delivered: true, attempts };
    } catch (e) {
      const err = e as Error;
      const error = err.name === 'TimeoutError' ? `timeout after ${policy.timeoutMs} ms` : err.message;
      attempts.push({ attempt, error, durationMs: Date.now() - started, rawBody, signature });
    }
  }
  return { delivered: false, attempts };
}
