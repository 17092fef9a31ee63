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

/**
 * Intercom's ping: sent to a subscription's endpoint when the subscription is saved, and from
 * time to time after. Not a notification of anything: `id`, `delivery_status` and `self` are null.
 */
export interface IntercomPing {
  type: 'notification_event';
  app_id: string;
  data: { type: 'notification_event_data'; item: { type: 'ping'; message: string } };
  links: Record<string, never>;
  id: null;
  topic: 'ping';
  delivery_status: null;
  delivery_attempts: 1;
  delivered_at: 0;
  first_sent_at: number;
  created_at: number;
  self: null;
}

/** The ping as Intercom documents it, field for field (issue #19), at `createdAt` (unix seconds). */
export function buildPing(appId: string, createdAt = Math.floor(Date.now() / 1000)): IntercomPing {
  return {
    type: 'notification_event',
    app_id: appId,
    data: { type: 'notification_event_data', item: { type: 'ping', message: 'something something interzen' } },
    links: {},
    id: null,
    topic: 'ping',
    delivery_status: null,
    delivery_attempts: 1,
    delivered_at: 0,
    first_sent_at: createdAt,
    created_at: createdAt,
    self: null,
  };
}

export interface NotificationOptions {
  appId?: string;
  /** default `notif_<uuid>` */
  id?: string;
  /** unix seconds; default now */
  createdAt?: number;
}

export function buildNotification<Item>(
  topic: string,
  item: Item,
  options: NotificationOptions = {},
): IntercomNotification<Item> {
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
 * One failed notification is sent once more about a minute later (5 s timeout): the redelivery
 * described in issue #12. The Intercom page found (below) does not state the retry itself in the
 * stored text; it documents the policy around it. Every value is configurable.
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

export async function sendWebhook(
  url: string,
  notification: IntercomNotification,
  options: SendWebhookOptions,
): Promise<DeliveryResult> {
  const policy: DeliveryPolicy = {
    timeoutMs: options.timeoutMs ?? DEFAULT_DELIVERY.timeoutMs,
    maxAttempts: options.retry === false ? 1 : (options.maxAttempts ?? DEFAULT_DELIVERY.maxAttempts),
    retryDelayMs: options.retryDelayMs ?? DEFAULT_DELIVERY.retryDelayMs,
  };
  const attempts: DeliveryAttempt[] = [];
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    if (attempt > 1) await sleep(policy.retryDelayMs);
    const a = await attemptDelivery(url, notification, attempt, {
      secret: options.secret,
      timeoutMs: policy.timeoutMs,
      headers: options.headers,
    });
    attempts.push(a);
    if (succeeded(a)) return { delivered: true, attempts };
  }
  return { delivered: false, attempts };
}

function succeeded(a: DeliveryAttempt): boolean {
  return a.status !== undefined && a.status >= 200 && a.status < 300;
}

/** One POST of the notification (its `delivery_attempts` set to this attempt), signed; never throws. */
async function attemptDelivery(
  url: string,
  notification: IntercomNotification,
  attempt: number,
  options: { secret: string; timeoutMs: number; headers?: Record<string, string> },
): Promise<DeliveryAttempt> {
  const sent: IntercomNotification = {
    ...notification,
    delivery_attempts: notification.delivery_attempts + attempt - 1,
  };
  const { answer: _answer, ...result } = await postSigned(url, JSON.stringify(sent), options);
  return { attempt, ...result };
}

/** POSTs `rawBody` signed as Intercom signs it; the status and the answer's text, or why there was none. Never throws. */
async function postSigned(
  url: string,
  rawBody: string,
  options: { secret: string; timeoutMs: number; headers?: Record<string, string> },
): Promise<Omit<DeliveryAttempt, 'attempt'> & { answer?: string }> {
  const signature = signBody(rawBody, options.secret);
  const started = Date.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      body: rawBody,
      headers: {
        'Content-Type': 'application/json',
        'X-Hub-Signature': signature,
        'User-Agent': 'intercom-emulator-webhooks',
        ...options.headers,
      },
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const answer = await res.text().catch(() => undefined);
    return { status: res.status, answer, durationMs: Date.now() - started, rawBody, signature };
  } catch (e) {
    const err = e as Error;
    const error = err.name === 'TimeoutError' ? `timeout after ${options.timeoutMs} ms` : err.message;
    return { error, durationMs: Date.now() - started, rawBody, signature };
  }
}

/** One line for a ping's result: what was answered, or that nothing healthy was. */
export function describePing(r: PingResult): string {
  const what = `webhook ping (${r.reason}) to ${r.url}`;
  if (r.status === undefined) return `${what}: NO answer (${r.error}) after ${r.durationMs} ms`;
  const healthy = r.status >= 200 && r.status < 300;
  return `${what}: ${healthy ? 'answered' : 'NOT healthy, answered'} ${r.status} ${r.answer ?? ''} in ${r.durationMs} ms`.replace(
    / {2,}/g,
    ' ',
  );
}

/** Why a ping was sent: the subscription was created or changed (admin API), or the periodic check. */
export type PingReason = 'subscription created' | 'subscription changed' | 'interval';

/** One ping sent and what the endpoint answered (`status` 2xx: healthy). */
export interface PingResult {
  readonly reason: PingReason;
  readonly url: string;
  readonly at: number;
  readonly status?: number;
  /** The answer's body, cut to 200 characters. */
  readonly answer?: string;
  /** Why there was no answer (network error, timeout). */
  readonly error?: string;
  readonly durationMs: number;
}

// ------------------------------------------------------------------ the emulator's sender

export interface WebhookSenderOptions {
  /** The app's webhook endpoint (ingest's POST /webhooks/intercom). */
  readonly url: string;
  /** The app's client secret, for X-Hub-Signature. */
  readonly secret: string;
  /** An answer slower than this is a failure (default 5,000 ms). */
  readonly timeoutMs?: number;
  /** Wait before the one redelivery of a failed notification (default 60,000 ms). */
  readonly retryDelayMs?: number;
  /** Consecutive failed attempts that pause the subscription (default 1,000). */
  readonly pauseAfterFailures?: number;
  /** ... when they all fall within this window (default 15 min). */
  readonly failureWindowMs?: number;
  /** How long a pause lasts (default 15 min). */
  readonly pauseMs?: number;
  readonly headers?: Record<string, string>;
  /** Clock of the failure window and the pause (default Date.now). */
  readonly now?: () => number;
  /** The workspace's app_id, put in pings (default `emu1a2b3`, as buildNotification). */
  readonly appId?: string;
  /** Called with every ping's result (the emulator's main prints one line each). */
  readonly onPing?: (result: PingResult) => void;
}

type SenderPolicy = Required<
  Pick<WebhookSenderOptions, 'timeoutMs' | 'retryDelayMs' | 'pauseAfterFailures' | 'failureWindowMs' | 'pauseMs'>
>;

export const DEFAULT_SENDER: Readonly<SenderPolicy> = {
  timeoutMs: DEFAULT_DELIVERY.timeoutMs,
  retryDelayMs: DEFAULT_DELIVERY.retryDelayMs,
  pauseAfterFailures: 1000,
  failureWindowMs: 15 * 60_000,
  pauseMs: 15 * 60_000,
};

/** What became of one notification given to the sender. */
export type SendOutcome = 'delivered' | 'delivered-on-retry' | 'dropped' | 'not-sent-paused';

export interface WebhookSenderStats {
  /** POSTs made (first attempts and retries). */
  readonly attempts: number;
  readonly delivered: number;
  /** Notifications sent a second time after a failed first attempt. */
  readonly retried: number;
  /** Notifications that failed twice and were given up. */
  readonly dropped: number;
  /** Notifications (or retries) not sent because the subscription was paused. */
  readonly notSentWhilePaused: number;
  /** Times the subscription was paused. */
  readonly pauses: number;
  /** Failed attempts in a row, within the failure window. */
  readonly consecutiveFailures: number;
  /** Epoch ms the current pause ends, or null when not paused. */
  readonly pausedUntil: number | null;
  /** Pings sent, answered 2xx, failed (non-2xx or no answer), and the last one. */
  readonly pings: {
    readonly sent: number;
    readonly answered: number;
    readonly failed: number;
    readonly last: PingResult | null;
  };
}

/**
 * Delivers notifications to one endpoint the way Intercom does
 * (developers.intercom.com/docs/webhooks/webhook-notifications, "Webhook notifications"):
 * - a failed notification (non-2xx, network error, or no answer within 5 s) is sent once more
 *   after `retryDelayMs`, then dropped and counted;
 * - "If your endpoint URL responds with more than 1000 consecutive HTTP error codes in a 15-minute
 *   window, we pause your Webhook topic notifications for 15 minutes after which we start sending
 *   as normal again." A notification (or a due retry) met by a pause is not sent, and counted.
 * Not emulated: the suspension after seven days of errors, the 429 throttling and the priorities.
 */
export class WebhookSender {
  private readonly policy: SenderPolicy;
  private readonly now: () => number;
  /** Times of the current run of failed attempts (cleared by a success), oldest first. */
  private failureRun: number[] = [];
  private pausedUntil = 0;
  private counts = { attempts: 0, delivered: 0, retried: 0, dropped: 0, notSentWhilePaused: 0, pauses: 0 };
  private pingCounts = { sent: 0, answered: 0, failed: 0 };
  private lastPing: PingResult | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private endpoint: string;

  constructor(private readonly options: WebhookSenderOptions) {
    this.endpoint = options.url;
    this.now = options.now ?? Date.now;
    this.policy = {
      timeoutMs: options.timeoutMs ?? DEFAULT_SENDER.timeoutMs,
      retryDelayMs: options.retryDelayMs ?? DEFAULT_SENDER.retryDelayMs,
      pauseAfterFailures: options.pauseAfterFailures ?? DEFAULT_SENDER.pauseAfterFailures,
      failureWindowMs: options.failureWindowMs ?? DEFAULT_SENDER.failureWindowMs,
      pauseMs: options.pauseMs ?? DEFAULT_SENDER.pauseMs,
    };
  }

  /** The endpoint notifications and pings go to. */
  get url(): string {
    return this.endpoint;
  }

  /** Points the subscription at another endpoint (its counts, failure run and pause are kept). */
  retarget(url: string): void {
    this.endpoint = url;
  }

  /**
   * Sends Intercom's ping (buildPing), signed, once: no retry, not held back by a pause (it is how
   * a subscription's owner checks the endpoint). A 2xx answer is a healthy endpoint.
   */
  async ping(reason: PingReason): Promise<PingResult> {
    const at = this.now();
    const body = JSON.stringify(buildPing(this.options.appId ?? 'emu1a2b3', Math.floor(at / 1000)));
    const r = await postSigned(this.endpoint, body, {
      secret: this.options.secret,
      timeoutMs: this.policy.timeoutMs,
      headers: this.options.headers,
    });
    const result: PingResult = {
      reason,
      url: this.endpoint,
      at,
      durationMs: r.durationMs,
      ...(r.status !== undefined ? { status: r.status, answer: (r.answer ?? '').slice(0, 200) } : { error: r.error }),
    };
    this.pingCounts.sent++;
    if (result.status !== undefined && result.status >= 200 && result.status < 300) this.pingCounts.answered++;
    else this.pingCounts.failed++;
    this.lastPing = result;
    this.options.onPing?.(result);
    return result;
  }

  get paused(): boolean {
    return this.now() < this.pausedUntil;
  }

  /** Delivers one notification: first attempt, at most one retry; resolves once its fate is known. */
  async send(notification: IntercomNotification): Promise<{ outcome: SendOutcome; attempts: DeliveryAttempt[] }> {
    const attempts: DeliveryAttempt[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (attempt === 2) {
        this.counts.retried++;
        await this.sleep(this.policy.retryDelayMs);
      }
      if (this.paused) {
        this.counts.notSentWhilePaused++;
        return { outcome: 'not-sent-paused', attempts };
      }
      const a = await attemptDelivery(this.endpoint, notification, attempt, {
        secret: this.options.secret,
        timeoutMs: this.policy.timeoutMs,
        headers: this.options.headers,
      });
      this.counts.attempts++;
      attempts.push(a);
      if (succeeded(a)) {
        this.failureRun = [];
        this.counts.delivered++;
        return { outcome: attempt === 1 ? 'delivered' : 'delivered-on-retry', attempts };
      }
      this.recordFailure();
    }
    this.counts.dropped++;
    return { outcome: 'dropped', attempts };
  }

  stats(): WebhookSenderStats {
    return {
      ...this.counts,
      consecutiveFailures: this.failureRun.length,
      pausedUntil: this.paused ? this.pausedUntil : null,
      pings: { ...this.pingCounts, last: this.lastPing },
    };
  }

  /** Forgets the counts, the failure run and any pause. */
  reset(): void {
    this.failureRun = [];
    this.pausedUntil = 0;
    this.counts = { attempts: 0, delivered: 0, retried: 0, dropped: 0, notSentWhilePaused: 0, pauses: 0 };
    this.pingCounts = { sent: 0, answered: 0, failed: 0 };
    this.lastPing = null;
  }

  /** Cancels the retries still waiting (they are never sent). */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private recordFailure(): void {
    const t = this.now();
    this.failureRun.push(t);
    while (this.failureRun.length > 0 && t - this.failureRun[0] > this.policy.failureWindowMs) this.failureRun.shift();
    if (this.failureRun.length >= this.policy.pauseAfterFailures) {
      this.pausedUntil = t + this.policy.pauseMs;
      this.counts.pauses++;
      this.failureRun = [];
    }
  }
}
