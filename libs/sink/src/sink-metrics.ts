import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRICS_REGISTRY } from '@iks/ops';
import { metricOnce } from '@iks/stage';

const CONNECTION_STATES = ['closed', 'open', 'half_open', 'paused', 'needs_reauth', 'no_credential'] as const;

/** The sink's Klaviyo metrics: retries, request latency, and the refused-key alert. */
@Injectable()
export class SinkMetrics {
  readonly retries: Counter<'operation'>;
  readonly requestSeconds: Histogram<'operation' | 'status'>;
  /** 1 while Klaviyo refuses the API key (401/403): delivery waits and retries, nothing is dead-lettered. */
  readonly keyRefused: Gauge;
  /** Per connection: 1 for its current state (closed, open, half_open, paused, needs_reauth, no_credential), 0 for the others. */
  readonly connectionState: Gauge<'connection' | 'account' | 'state'>;
  /** Records parked in klaviyo.parked.v1, by connection and why. */
  readonly parked: Counter<'connection' | 'reason'>;
  /** Parked records delivered (or dead-lettered) once their account answered, by connection. */
  readonly unparked: Counter<'connection'>;
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
          help: '1 while Klaviyo answers 401/403 to the API key of any connection (an alert: its records are parked; iks_sink_connection_state says which).',
          registers: [registry],
        }),
    );
    this.connectionState = metricOnce(
      registry,
      'iks_sink_connection_state',
      () =>
        new Gauge({
          name: 'iks_sink_connection_state',
          help: 'Per connection and Klaviyo account: 1 for its state on this replica (closed: delivering; open: its account fails, records parked; half_open: probing; paused, needs_reauth, no_credential: waiting), 0 for the others.',
          labelNames: ['connection', 'account', 'state'],
          registers: [registry],
        }),
    );
    this.parked = metricOnce(
      registry,
      'iks_sink_parked_total',
      () =>
        new Counter({
          name: 'iks_sink_parked_total',
          help: 'Records parked in klaviyo.parked.v1 (their account unavailable, their connection paused, or behind parked ones), by connection and reason.',
          labelNames: ['connection', 'reason'],
          registers: [registry],
        }),
    );
    this.unparked = metricOnce(
      registry,
      'iks_sink_unparked_total',
      () =>
        new Counter({
          name: 'iks_sink_unparked_total',
          help: 'Parked records taken out of klaviyo.parked.v1 for good (delivered, skipped or dead-lettered), by connection.',
          labelNames: ['connection'],
          registers: [registry],
        }),
    );
  }

  /** The state gauge of one connection: 1 for `state`, 0 for the others. */
  setConnectionState(connection: string, account: string, state: string): void {
    for (const s of CONNECTION_STATES) this.connectionState.set({ connection, account, state: s }, s === state ? 1 : 0);
  }

  retried(operation: string): void {
    this.retries.inc({ operation });
    this.retryCount++;
  }
}
