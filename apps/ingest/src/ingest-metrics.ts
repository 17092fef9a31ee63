import { Counters } from '@iks/kafka';

/** Counts every outcome with its reason (STYLE habit 6); served at GET /metrics. */
export class IngestMetrics {
  readonly accepted = new Counters('iks_ingest_notifications_accepted_total', 'Notifications written to Kafka, by Intercom topic.');
  readonly rejected = new Counters('iks_ingest_webhooks_rejected_total', 'Webhooks answered with an error, by reason.');
  pings = 0;

  countAccepted(topic: string): void {
    this.accepted.inc({ topic });
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
