import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Intercom webhook topics this pipeline subscribes to (README, "Registering the webhook in
 * Intercom") and `ping`. The topic label is one of these or `other`: any string a signed sender
 * puts in `topic` must not become a new metric series.
 */
export const KNOWN_TOPICS: ReadonlySet<string> = new Set([
  'ping',
  'conversation.user.created',
  'conversation.user.replied',
  'conversation.read',
  'conversation.rating.added',
  'ticket.created',
  'ticket.state.updated',
  'ticket.contact.replied',
  'ticket.resolved',
  'contact.user.created',
  'contact.lead.created',
  'contact.user.updated',
  'contact.lead.updated',
  'contact.email.updated',
  'contact.lead.signed_up',
  'contact.subscribed',
  'contact.unsubscribed',
  'contact.user.tag.created',
  'contact.user.tag.deleted',
  'contact.lead.tag.created',
  'contact.lead.tag.deleted',
  'contact.deleted',
  'contact.archived',
]);

export function topicLabel(topic: string): string {
  return KNOWN_TOPICS.has(topic) ? topic : 'other';
}

/** "2xx", "4xx", "5xx": the status class of an answer, the ack histogram's label. */
export function statusClass(statusCode: number): string {
  return statusCode >= 100 && statusCode < 600 ? `${Math.trunc(statusCode / 100)}xx` : 'other';
}

/** Intercom gives up on a delivery after 5 s; the buckets are finest where a healthy ack lands. */
const ACK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Counts every outcome with its reason (STYLE habit 6) and times every webhook answer, in the
 * app's prom-client registry (served at GET /metrics). The webhook path is hot: the labelled
 * children are looked up once per label value, not per request.
 */
export class IngestMetrics {
  private readonly accepted: Counter<'topic'>;
  private readonly rejected: Counter<'reason'>;
  private readonly pings: Counter;
  private readonly unclaimed: Counter;
  private readonly ack: Histogram<'status_class'>;
  private readonly acceptedBy = new Map<string, Counter.Internal>();
  private readonly ackBy = new Map<number, Histogram.Internal<'status_class'>>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.accepted = new Counter({
      name: 'iks_ingest_notifications_accepted_total',
      help: 'Notifications written to Kafka, by Intercom topic (unknown topics as "other").',
      labelNames: ['topic'],
      registers,
    });
    this.rejected = new Counter({
      name: 'iks_ingest_webhooks_rejected_total',
      help: 'Webhooks answered with an error, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.pings = new Counter({
      name: 'iks_ingest_pings_total',
      help: 'Intercom ping notifications answered.',
      registers,
    });
    this.unclaimed = new Counter({
      name: 'iks_ingest_unclaimed_total',
      help: 'Signed webhooks of workspaces no connection claims, answered 200 and kept in intercom.notifications.unclaimed.v1.',
      registers,
    });
    this.ack = new Histogram({
      name: 'iks_ingest_webhook_ack_seconds',
      help: 'Time from a webhook request received to its answer sent, by status class (2xx stored, 4xx refused, 5xx retry later).',
      labelNames: ['status_class'],
      buckets: ACK_BUCKETS,
      registers,
    });
  }

  countAccepted(topic: string): void {
    const label = topicLabel(topic);
    let child = this.acceptedBy.get(label);
    if (!child) this.acceptedBy.set(label, (child = this.accepted.labels({ topic: label })));
    child.inc();
  }

  countRejected(reason: string): void {
    this.rejected.inc({ reason });
  }

  countPing(): void {
    this.pings.inc();
  }

  countUnclaimed(): void {
    this.unclaimed.inc();
  }

  /** One webhook answered with `statusCode`, `seconds` after its request arrived. */
  observeAck(statusCode: number, seconds: number): void {
    let child = this.ackBy.get(statusCode);
    if (!child) this.ackBy.set(statusCode, (child = this.ack.labels({ status_class: statusClass(statusCode) })));
    child.observe(seconds);
  }
}
