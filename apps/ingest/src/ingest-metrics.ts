import { Counters } from '@iks/kafka';

/**
 * Intercom webhook topics this pipeline subscribes to (README, "Registering the webhook in
 * Intercom") and `ping`. The topic label is one of these or `other`: any string a signed sender
 * puts in `topic` must not become a new metric series.
 */
export const KNOWN_TOPICS: ReadonlySet<string> = new Set([
  'ping',
  'conversation.user.created', 'conversation.user.replied', 'conversation.read', 'conversation.rating.added',
  'ticket.created', 'ticket.state.updated', 'ticket.contact.replied', 'ticket.resolved',
  'contact.user.created', 'contact.lead.created', 'contact.user.updated', 'contact.lead.updated', 'contact.email.updated',
  'contact.lead.signed_up', 'contact.subscribed', 'contact.unsubscribed', 'contact.user.tag.created', 'contact.user.tag.deleted',
  'contact.lead.tag.created', 'contact.lead.tag.deleted', 'contact.deleted', 'contact.archived',
]);

export function topicLabel(topic: string): string {
  return KNOWN_TOPICS.has(topic) ? topic : 'other';
}

/** Counts every outcome with its reason (STYLE habit 6); served at GET /metrics. */
export class IngestMetrics {
  readonly accepted = new Counters('iks_ingest_notifications_accepted_total', 'Notifications written to Kafka, by Intercom topic (unknown topics as "other").');
  readonly rejected = new Counters('iks_ingest_webhooks_rejected_total', 'Webhooks answered with an error, by reason.');
  pings = 0;

  countAccepted(topic: string): void {
    this.accepted.inc({ topic: topicLabel(topic) });
  }
  countRejected(reason: string): void {
    this.rejected.inc({ reason });
  }

  /** Prometheus text exposition format. */
  render(): string {
    return [
      this.accepted.render(),
      this.rejected.render(),
      '# HELP iks_ingest_pings_total Intercom ping notifications answered.',
      '# TYPE iks_ingest_pings_total counter',
      `iks_ingest_pings_total ${this.pings}`,
      '',
    ].join('\n');
  }
}
