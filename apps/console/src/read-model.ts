import type { DeadLetter, DeliveryOutcome, DeliveryOutcomeKind } from '@iks/domain';
import { reasonKey } from '@iks/kafka';

const MINUTE = 60_000;
const WEEK_MINUTES = 7 * 24 * 60;

export interface ReadModelLimits {
  /** Latest events kept per metric (with their properties). */
  readonly latestPerMetric: number;
  /** Entries kept per person (email, phone or contact id). */
  readonly perPerson: number;
  /** People indexed; the oldest are forgotten first. */
  readonly people: number;
  /** Dead letters kept with their bytes (counts by reason cover all). */
  readonly deadLetters: number;
  /** Delivered unique_ids remembered to count each event once (past it, repeats count again). */
  readonly uniqueIds: number;
}

export const DEFAULT_LIMITS: ReadModelLimits = { latestPerMetric: 50, perPerson: 200, people: 500_000, deadLetters: 10_000, uniqueIds: 5_000_000 };

/** One outcome as the pages show it (properties only where kept: a metric's latest events, a person's profile). */
export interface OutcomeView {
  readonly kind: DeliveryOutcomeKind;
  readonly reason: string;
  readonly recordKind: DeliveryOutcome['record_kind'];
  readonly metric: string | null;
  readonly uniqueId: string | null;
  readonly contactId: string | null;
  readonly email: string | null;
  readonly phone: string | null;
  readonly eventTime: string | null;
  readonly mappedAt: number | null;
  readonly outcomeAt: number;
  readonly at: string;
  readonly properties: string | null;
}

export interface MetricStats {
  readonly name: string;
  /** Distinct events delivered (Klaviyo keeps the first per unique_id and drops the repeats). */
  delivered: number;
  /** Delivered again with a unique_id already delivered (a replay, a redelivery): Klaviyo dropped them. */
  repeats: number;
  deadLettered: number;
  skipped: number;
  retried: number;
  lastEventTime: string | null;
  /** Delivered per minute (unix minute → count), the last 7 days. */
  readonly perMinute: Map<number, number>;
  /** Newest last, at most `latestPerMetric`. */
  readonly latest: OutcomeView[];
}

export interface LetterView {
  /** `<dlq topic>:<partition>:<offset>` */
  readonly at: string;
  readonly letter: DeadLetter | null;
  readonly decodeError: string | null;
  readonly reason: string;
  /** The original value decoded (Avro → JSON), when it could be. */
  readonly decoded: string | null;
  reprocessedAt: number | null;
}

/**
 * The console's read model, built only from topics (klaviyo.outcomes.v1 and the dead-letter
 * topics), in memory and bounded: per-metric aggregates and the latest events, a person index,
 * and the dead letters. Rebuilt on start by reading the topics from the beginning.
 */
export class DeliveryReadModel {
  readonly metrics = new Map<string, MetricStats>();
  private readonly people = new Map<string, OutcomeView[]>();
  readonly letters = new Map<string, LetterView>();
  readonly lettersByReason = new Map<string, number>();
  readonly kinds = new Map<DeliveryOutcomeKind, number>();
  /** Every outcome per minute (throughput chart), the last 7 days. */
  readonly outcomesPerMinute = new Map<number, number>();
  outcomes = 0;
  deadLetterCount = 0;
  private readonly delivered = new Set<string>();

  constructor(private readonly limits: ReadModelLimits = DEFAULT_LIMITS) {}

  apply(o: DeliveryOutcome): void {
    this.outcomes++;
    this.kinds.set(o.kind, (this.kinds.get(o.kind) ?? 0) + 1);
    const minute = Math.floor(o.outcome_at / MINUTE);
    bump(this.outcomesPerMinute, minute, WEEK_MINUTES);
    const view: OutcomeView = {
      kind: o.kind, reason: o.reason, recordKind: o.record_kind, metric: o.metric, uniqueId: o.unique_id, contactId: o.intercom_contact_id,
      email: o.email, phone: o.phone_number, eventTime: o.event_time, mappedAt: o.record_timestamp, outcomeAt: o.outcome_at,
      at: `${o.topic}:${o.partition}:${o.offset}`, properties: o.record_kind === 'profile' ? o.properties_json : null,
    };
    if (o.metric !== null) {
      const m = this.metric(o.metric);
      const first = o.kind === 'delivered' && this.firstDelivery(o);
      if (o.kind === 'delivered' && !first) m.repeats++;
      else if (o.kind === 'delivered') {
        m.delivered++;
        bump(m.perMinute, minute, WEEK_MINUTES);
        if (m.lastEventTime === null || (o.event_time !== null && o.event_time > m.lastEventTime)) m.lastEventTime = o.event_time;
      } else if (o.kind === 'dead_lettered') m.deadLettered++;
      else if (o.kind === 'skipped') m.skipped++;
      else if (o.kind === 'retried') m.retried++;
      m.latest.push({ ...view, properties: o.properties_json });
      if (m.latest.length > this.limits.latestPerMetric) m.latest.shift();
    }
    if (o.email) this.index(`e:${o.email.toLowerCase()}`, view);
    if (o.phone_number) this.index(`p:${o.phone_number}`, view);
    if (o.intercom_contact_id) this.index(`c:${o.intercom_contact_id}`, view);
  }

  applyDeadLetter(at: string, letter: DeadLetter | null, decoded: string | null, decodeError: string | null = null): void {
    this.deadLetterCount++;
    const reason = letter ? `${letter.stage} · ${reasonKey(letter)}` : 'undecodable dead letter';
    this.lettersByReason.set(reason, (this.lettersByReason.get(reason) ?? 0) + 1);
    this.letters.set(at, { at, letter, decodeError, reason, decoded, reprocessedAt: null });
    if (this.letters.size > this.limits.deadLetters) this.letters.delete(this.letters.keys().next().value!);
  }

  private firstDelivery(o: DeliveryOutcome): boolean {
    if (o.unique_id === null) return true;
    const key = `${o.metric}\u0000${o.unique_id}`;
    if (this.delivered.has(key)) return false;
    if (this.delivered.size >= this.limits.uniqueIds) this.delivered.clear();
    this.delivered.add(key);
    return true;
  }

  metric(name: string): MetricStats {
    let m = this.metrics.get(name);
    if (!m) {
      m = { name, delivered: 0, repeats: 0, deadLettered: 0, skipped: 0, retried: 0, lastEventTime: null, perMinute: new Map(), latest: [] };
      this.metrics.set(name, m);
    }
    return m;
  }

  /** Delivered in the last `minutes` (by outcome time). */
  deliveredSince(m: MetricStats, now: number, minutes: number): number {
    const from = Math.floor(now / MINUTE) - minutes + 1;
    let n = 0;
    for (const [minute, count] of m.perMinute) if (minute >= from) n += count;
    return n;
  }

  /** Counts per `bucketMinutes` over the last `buckets` buckets, oldest first. */
  series(perMinute: ReadonlyMap<number, number>, now: number, buckets: number, bucketMinutes: number): number[] {
    const out = new Array<number>(buckets).fill(0);
    const last = Math.floor(now / MINUTE);
    const first = last - buckets * bucketMinutes + 1;
    for (const [minute, count] of perMinute) {
      if (minute < first || minute > last) continue;
      out[Math.floor((minute - first) / bucketMinutes)] += count;
    }
    return out;
  }

  /** A person's outcomes by email, E.164 phone or Intercom contact id (oldest first). */
  person(query: string): OutcomeView[] {
    const q = query.trim();
    if (q === '') return [];
    const keys = q.includes('@') ? [`e:${q.toLowerCase()}`] : [`c:${q}`, `p:${q}`, `p:+${q.replace(/^\+/, '')}`];
    const seen = new Set<OutcomeView>();
    for (const k of keys) for (const v of this.people.get(k) ?? []) seen.add(v);
    return [...seen].sort((a, b) => a.outcomeAt - b.outcomeAt);
  }

  private index(key: string, view: OutcomeView): void {
    let list = this.people.get(key);
    if (!list) {
      list = [];
      this.people.set(key, list);
      if (this.people.size > this.limits.people) this.people.delete(this.people.keys().next().value!);
    }
    list.push(view);
    if (list.length > this.limits.perPerson) list.shift();
  }
}

/** Adds one to a minute bucket, forgetting buckets older than `keep` minutes behind it (0: keep all). */
function bump(buckets: Map<number, number>, minute: number, keep: number): void {
  buckets.set(minute, (buckets.get(minute) ?? 0) + 1);
  if (keep > 0 && buckets.size > keep + 60) {
    for (const k of buckets.keys()) if (k < minute - keep) buckets.delete(k);
  }
}
