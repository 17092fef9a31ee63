import type { DeadLetter, DeliveryOutcome, DeliveryOutcomeKind } from '@iks/domain';
import { reasonKey } from '@iks/kafka';
import { MinuteRing } from './minute-ring';

const MINUTE = 60_000;
/** 7 days and an hour of minute slots. */
const RING_MINUTES = 7 * 24 * 60 + 60;

export interface ReadModelLimits {
  /** Latest events kept per metric (with their properties). */
  readonly latestPerMetric: number;
  /** Entries kept per person (email, phone or contact id). */
  readonly perPerson: number;
  /** People indexed; the oldest are forgotten first. */
  readonly people: number;
  /** Outcomes kept in the person index in all; the oldest are forgotten first. */
  readonly personEntries: number;
  /** Dead letters kept with their bytes (counts by reason cover all). */
  readonly deadLetters: number;
  /** Delivered unique_ids remembered to count each event once (past it, repeats count again). */
  readonly uniqueIds: number;
}

export const DEFAULT_LIMITS: ReadModelLimits = {
  latestPerMetric: 50, perPerson: 200, people: 500_000, personEntries: 1_000_000, deadLetters: 10_000, uniqueIds: 5_000_000,
};

/** Who an outcome is about; one object shared by the consecutive outcomes of one person. */
export interface PersonIds {
  readonly contactId: string | null;
  readonly email: string | null;
  readonly phone: string | null;
}

/**
 * One outcome as the pages show it, compact (a million of them are held): times as numbers,
 * repeated strings interned, the person's ids shared, properties only where kept (a metric's
 * latest events, a person's newest profile).
 */
export class OutcomeView {
  constructor(
    readonly kind: DeliveryOutcomeKind,
    readonly reason: string,
    readonly recordKind: DeliveryOutcome['record_kind'],
    readonly metric: string | null,
    readonly uniqueId: string | null,
    readonly ids: PersonIds,
    /** unix ms: when it happened in Intercom (events). */
    readonly eventTime: number | null,
    /** unix ms: when ingest accepted the webhook (or backfill/reconcile wrote the notification). */
    readonly receivedAt: number | null,
    readonly mappedAt: number | null,
    readonly outcomeAt: number,
    private readonly topic: string,
    private readonly partition: number,
    private readonly offset: number,
    public properties: string | null,
  ) {}

  get contactId(): string | null {
    return this.ids.contactId;
  }

  get email(): string | null {
    return this.ids.email;
  }

  get phone(): string | null {
    return this.ids.phone;
  }

  /** `<topic>:<partition>:<offset>` of the record the sink consumed. */
  get at(): string {
    return `${this.topic}:${this.partition}:${this.offset}`;
  }

  withProperties(properties: string | null): OutcomeView {
    return new OutcomeView(this.kind, this.reason, this.recordKind, this.metric, this.uniqueId, this.ids, this.eventTime, this.receivedAt, this.mappedAt, this.outcomeAt,
      this.topic, this.partition, this.offset, properties);
  }
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
  /** Delivered per minute, the last 7 days. */
  readonly perMinute: MinuteRing;
  /** Newest last, at most `latestPerMetric`. */
  readonly latest: OutcomeView[];
  /** Delivered unique_ids (to count each once). */
  readonly seen: Set<string>;
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
 * topics), in memory and bounded: per-metric aggregates (fixed minute rings) and the latest
 * events, a person index (at most `personEntries` outcomes, oldest forgotten first), and the
 * dead letters. Rebuilt on start by reading the topics from the beginning.
 */
export class DeliveryReadModel {
  readonly metrics = new Map<string, MetricStats>();
  private readonly people = new Map<string, OutcomeView[]>();
  /** The person index's outcomes in arrival order (a ring): the oldest is dropped first. */
  private readonly ring: Array<OutcomeView | undefined>;
  private ringNext = 0;
  readonly letters = new Map<string, LetterView>();
  readonly lettersByReason = new Map<string, number>();
  readonly kinds = new Map<DeliveryOutcomeKind, number>();
  /** Every outcome per minute (throughput chart), the last 7 days. */
  readonly outcomesPerMinute = new MinuteRing(RING_MINUTES);
  /** `retried` outcomes per minute: slices that failed as a whole and are read again. */
  readonly retriedPerMinute = new MinuteRing(RING_MINUTES);
  outcomes = 0;
  deadLetterCount = 0;
  private seenIds = 0;
  private readonly interned = new Map<string, string>();

  constructor(private readonly limits: ReadModelLimits = DEFAULT_LIMITS) {
    this.ring = new Array(limits.personEntries);
  }

  apply(o: DeliveryOutcome): void {
    this.outcomes++;
    this.kinds.set(o.kind, (this.kinds.get(o.kind) ?? 0) + 1);
    const minute = Math.floor(o.outcome_at / MINUTE);
    this.outcomesPerMinute.add(minute);
    if (o.kind === 'retried') this.retriedPerMinute.add(minute);
    const eventMs = o.event_time === null ? NaN : Date.parse(o.event_time);
    const view = new OutcomeView(
      o.kind, this.intern(o.reason), o.record_kind, o.metric === null ? null : this.intern(o.metric), o.unique_id, this.idsOf(o),
      Number.isFinite(eventMs) ? eventMs : null, o.received_at, o.record_timestamp, o.outcome_at, this.intern(o.topic), o.partition, Number(o.offset),
      o.record_kind === 'profile' ? o.properties_json : null,
    );
    if (view.metric !== null) {
      const m = this.metric(view.metric);
      if (o.kind === 'delivered') {
        if (!this.firstDelivery(m, view.uniqueId)) m.repeats++;
        else {
          m.delivered++;
          m.perMinute.add(minute);
          if (m.lastEventTime === null || (o.event_time !== null && o.event_time > m.lastEventTime)) m.lastEventTime = o.event_time;
        }
      } else if (o.kind === 'dead_lettered') m.deadLettered++;
      else if (o.kind === 'skipped') m.skipped++;
      else if (o.kind === 'retried') m.retried++;
      m.latest.push(view.withProperties(o.properties_json));
      if (m.latest.length > this.limits.latestPerMetric) m.latest.shift();
    }
    this.index(view);
  }

  applyDeadLetter(at: string, letter: DeadLetter | null, decoded: string | null, decodeError: string | null = null): void {
    this.deadLetterCount++;
    const reason = letter ? `${letter.stage} · ${reasonKey(letter)}` : 'undecodable dead letter';
    this.lettersByReason.set(reason, (this.lettersByReason.get(reason) ?? 0) + 1);
    this.letters.set(at, { at, letter, decodeError, reason, decoded, reprocessedAt: null });
    if (this.letters.size > this.limits.deadLetters) this.letters.delete(this.letters.keys().next().value!);
  }

  private firstDelivery(m: MetricStats, uniqueId: string | null): boolean {
    if (uniqueId === null) return true;
    if (m.seen.has(uniqueId)) return false;
    if (this.seenIds >= this.limits.uniqueIds) {
      for (const s of this.metrics.values()) s.seen.clear();
      this.seenIds = 0;
    }
    m.seen.add(uniqueId);
    this.seenIds++;
    return true;
  }

  metric(name: string): MetricStats {
    let m = this.metrics.get(name);
    if (!m) {
      m = { name, delivered: 0, repeats: 0, deadLettered: 0, skipped: 0, retried: 0, lastEventTime: null, perMinute: new MinuteRing(RING_MINUTES), latest: [], seen: new Set() };
      this.metrics.set(name, m);
    }
    return m;
  }

  /** Delivered in the last `minutes` (by outcome time). */
  deliveredSince(m: MetricStats, now: number, minutes: number): number {
    const last = Math.floor(now / MINUTE);
    return m.perMinute.sum(last - minutes + 1, last);
  }

  /** Counts per `bucketMinutes` over the last `buckets` buckets, oldest first. */
  series(perMinute: MinuteRing, now: number, buckets: number, bucketMinutes: number): number[] {
    return perMinute.series(Math.floor(now / MINUTE), buckets, bucketMinutes);
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

  /** The person's ids, shared with their previous outcome when they are the same. */
  private idsOf(o: DeliveryOutcome): PersonIds {
    const key = o.intercom_contact_id ? `c:${o.intercom_contact_id}` : o.email ? `e:${o.email.toLowerCase()}` : o.phone_number ? `p:${o.phone_number}` : null;
    const list = key === null ? undefined : this.people.get(key);
    const prev = list?.[list.length - 1]?.ids;
    if (prev && prev.contactId === o.intercom_contact_id && prev.email === o.email && prev.phone === o.phone_number) return prev;
    return { contactId: o.intercom_contact_id, email: o.email, phone: o.phone_number };
  }

  private keysOf(ids: PersonIds): string[] {
    const keys: string[] = [];
    if (ids.email) keys.push(`e:${ids.email.toLowerCase()}`);
    if (ids.phone) keys.push(`p:${ids.phone}`);
    if (ids.contactId) keys.push(`c:${ids.contactId}`);
    return keys;
  }

  private index(view: OutcomeView): void {
    const keys = this.keysOf(view.ids);
    if (keys.length === 0) return;
    const old = this.ring[this.ringNext];
    if (old) this.forget(old);
    this.ring[this.ringNext] = view;
    this.ringNext = (this.ringNext + 1) % this.ring.length;
    for (const key of keys) {
      let list = this.people.get(key);
      if (!list) {
        list = [];
        this.people.set(key, list);
        if (this.people.size > this.limits.people) this.people.delete(this.people.keys().next().value!);
      }
      // the person page shows the newest profile as sent: older profiles keep no attributes
      if (view.recordKind === 'profile') for (const v of list) if (v.recordKind === 'profile') v.properties = null;
      list.push(view);
      if (list.length > this.limits.perPerson) list.shift();
    }
  }

  /** Drops the oldest outcome of the index (the first of its person's lists, unless already dropped there). */
  private forget(view: OutcomeView): void {
    for (const key of this.keysOf(view.ids)) {
      const list = this.people.get(key);
      if (list?.[0] !== view) continue;
      list.shift();
      if (list.length === 0) this.people.delete(key);
    }
  }

  /** One copy of a repeated string (metric names, reasons, topics); past 10,000 distinct ones, as given. */
  private intern(s: string): string {
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    if (this.interned.size < 10_000) this.interned.set(s, s);
    return s;
  }
}

