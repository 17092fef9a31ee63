import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutcomeKind, StageName } from './stage.types';

/** A metric registered once per registry (a stage runs several consumers against one registry). */
export function metricOnce<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/**
 * Every outcome, note and produced record of a stage, as Prometheus metrics and as typed totals
 * (the CLI's replay summary, the benches and the tests read the totals, not label text).
 */
export class StageTally {
  private readonly records: Counter<'stage' | 'topic' | 'outcome' | 'reason' | 'source'>;
  private readonly notesCounter: Counter<'stage' | 'note'>;
  private readonly producedCounter: Counter<'stage' | 'topic'>;
  readonly batchSeconds: Histogram<'stage'>;
  readonly lag: Gauge<'stage' | 'topic' | 'partition'>;
  readonly secondsSinceProgress: Gauge<'stage'>;
  private readonly kinds = new Map<OutcomeKind, number>();
  private readonly reasons = new Map<string, number>();
  private readonly notes = new Map<string, number>();
  private readonly producedByTopic = new Map<string, number>();

  constructor(
    private readonly stage: StageName,
    registry: Registry,
  ) {
    const registers = [registry];
    this.records = metricOnce(
      registry,
      'iks_stage_records_total',
      () =>
        new Counter({
          name: 'iks_stage_records_total',
          help: 'Records consumed by a stage, by outcome (done, skip, pending, dead_letter), reason and source.',
          labelNames: ['stage', 'topic', 'outcome', 'reason', 'source'],
          registers,
        }),
    );
    this.notesCounter = metricOnce(
      registry,
      'iks_stage_notes_total',
      () =>
        new Counter({
          name: 'iks_stage_notes_total',
          help: "Notes a stage attached to processed records (e.g. the mapping's phone_not_e164), by note.",
          labelNames: ['stage', 'note'],
          registers,
        }),
    );
    this.producedCounter = metricOnce(
      registry,
      'iks_stage_records_produced_total',
      () =>
        new Counter({
          name: 'iks_stage_records_produced_total',
          help: 'Records a stage produced, by topic.',
          labelNames: ['stage', 'topic'],
          registers,
        }),
    );
    this.batchSeconds = metricOnce(
      registry,
      'iks_stage_batch_duration_seconds',
      () =>
        new Histogram({
          name: 'iks_stage_batch_duration_seconds',
          help: 'Time to handle, produce, dead-letter and commit one slice of a batch.',
          labelNames: ['stage'],
          buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
          registers,
        }),
    );
    this.lag = metricOnce(
      registry,
      'iks_stage_consumer_lag',
      () =>
        new Gauge({
          name: 'iks_stage_consumer_lag',
          help: "Records between the last committed offset and the partition's high watermark, as last seen.",
          labelNames: ['stage', 'topic', 'partition'],
          registers,
        }),
    );
    this.secondsSinceProgress = metricOnce(
      registry,
      'iks_stage_seconds_since_progress',
      () =>
        new Gauge({
          name: 'iks_stage_seconds_since_progress',
          help: 'Seconds since the stage last committed while it had lag (0 when caught up).',
          labelNames: ['stage'],
          registers,
        }),
    );
  }

  outcome(topic: string, kind: OutcomeKind, reason: string, source = '', by = 1): void {
    this.records.inc({ stage: this.stage, topic, outcome: kind, reason, source }, by);
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + by);
    const key = `${kind}:${reason}`;
    this.reasons.set(key, (this.reasons.get(key) ?? 0) + by);
  }

  note(note: string): void {
    this.notesCounter.inc({ stage: this.stage, note });
    this.notes.set(note, (this.notes.get(note) ?? 0) + 1);
  }

  produced(topic: string, n: number): void {
    this.producedCounter.inc({ stage: this.stage, topic }, n);
    this.producedByTopic.set(topic, (this.producedByTopic.get(topic) ?? 0) + n);
  }

  /** Records with this outcome (all outcomes without an argument). */
  count(kind?: OutcomeKind): number {
    if (kind) return this.kinds.get(kind) ?? 0;
    let n = 0;
    for (const v of this.kinds.values()) n += v;
    return n;
  }

  countReason(kind: OutcomeKind, reason: string): number {
    return this.reasons.get(`${kind}:${reason}`) ?? 0;
  }

  noteCount(note: string): number {
    return this.notes.get(note) ?? 0;
  }

  /** Records produced, all topics together (one topic's with an argument). */
  producedCount(topic?: string): number {
    if (topic !== undefined) return this.producedByTopic.get(topic) ?? 0;
    let n = 0;
    for (const v of this.producedByTopic.values()) n += v;
    return n;
  }

  /** Produced records per topic and outcomes per kind, for summaries. */
  snapshot(): {
    readonly produced: ReadonlyMap<string, number>;
    readonly outcomes: ReadonlyMap<OutcomeKind, number>;
    readonly reasons: ReadonlyMap<string, number>;
  } {
    return { produced: new Map(this.producedByTopic), outcomes: new Map(this.kinds), reasons: new Map(this.reasons) };
  }
}
