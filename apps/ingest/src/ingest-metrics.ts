/** Counters every skip and outcome with its reason (STYLE habit 6); served at GET /metrics. */
export class IngestMetrics {
  readonly accepted = new Map<string, number>();
  readonly rejected = new Map<string, number>();
  pings = 0;

  countAccepted(topic: string): void {
    this.accepted.set(topic, (this.accepted.get(topic) ?? 0) + 1);
  }
  countRejected(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  /** Prometheus text exposition format. */
  render(): string {
    const lines = [
      '# HELP iks_ingest_notifications_accepted_total Notifications written to Kafka, by Intercom topic.',
      '# TYPE iks_ingest_notifications_accepted_total counter',
      ...[...this.accepted].map(([t, n]) => `iks_ingest_notifications_accepted_total{topic="${t}"} ${n}`),
      '# HELP iks_ingest_webhooks_rejected_total Webhooks answered with an error, by reason.',
      '# TYPE iks_ingest_webhooks_rejected_total counter',
      ...[...this.rejected].map(([r, n]) => `iks_ingest_webhooks_rejected_total{reason="${r}"} ${n}`),
      '# HELP iks_ingest_pings_total Intercom ping notifications answered.',
      '# TYPE iks_ingest_pings_total counter',
      `iks_ingest_pings_total ${this.pings}`,
    ];
    return `${lines.join('\n')}\n`;
  }
}
