import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRICS_REGISTRY } from '@iks/ops';
import { metricOnce } from '@iks/stage';

/** The sink's Klaviyo metrics: retries, request latency, and the refused-key alert. */
@Injectable()
export class SinkMetrics {
  readonly retries: Counter<'operation'>;
  readonly requestSeconds: Histogram<'operation' | 'status'>;
  /** 1 while Klaviyo refuses the API key (401/403): delivery waits and retries, nothing is dead-lettered. */
  readonly keyRefused: Gauge;
  /** Klaviyo requests retried (also iks_sink_klaviyo_retries_total by operation). */
  retryCount = 0;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.retries = metricOnce(
      registry,
      'iks_sink_klaviyo_retries_total',
      () =>
        new Counter({
          name: 'iks_sink_klaviyo_retries_total',
          help: 'Klaviyo requests retried, by operation.',
          labelNames: ['operation'],
          registers: [registry],
        }),
    );
    this.requestSeconds = metricOnce(
      registry,
      'iks_sink_klaviyo_request_seconds',
      () =>
        new Histogram({
          name: 'iks_sink_klaviyo_request_seconds',
          help: 'Klaviyo HTTP request latency per attempt (retries included), by operation and status ("network" when no answer arrived).',
          labelNames: ['operation', 'status'],
          buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
          registers: [registry],
        }),
    );
    this.keyRefused = metricOnce(
      registry,
      'iks_sink_klaviyo_key_refused',
      () =>
        new Gauge({
          name: 'iks_sink_klaviyo_key_refused',
          help: '1 while Klaviyo answers 401/403 to the API key (an alert: delivery is paused and retried).',
          registers: [registry],
        }),
    );
  }

  retried(operation: string): void {
    this.retries.inc({ operation });
    this.retryCount++;
  }
}
